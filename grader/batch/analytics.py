"""Class analytics: the class picture as plain data (summary.json), rendered as summary.html."""

from __future__ import annotations

import re

from grader.batch.output import Output
from grader.errors import ErrorKind
from grader.exercises import lookup, total_points
from grader.feedback.records import ExerciseResult, ExerciseStatus, GradeRow, RowStatus, TestResult, TestStatus


def _first_line(text: str, n: int = 220) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= n else line[: n - 1] + "…"


# failures that say nothing about a misconception: the exercise was not attempted
# (the stub's NotImplementedError), its file is missing, or Python could not read it
NOT_MISCONCEPTIONS = {ErrorKind.NOT_IMPLEMENTED, ErrorKind.MISSING_FILE}


def _misconception(ex: ExerciseResult, t: TestResult | None) -> bool:
    from grader.verdicts.hints import FOLLOW_UPS

    if t is not None and t.kind in NOT_MISCONCEPTIONS:
        return False
    text = (t or ex).hint or ""
    if text in FOLLOW_UPS:  # "fix what the other tests report first": the misconception is counted there
        return False
    msg = (t or ex).message or ""
    if ex.status == ExerciseStatus.MISSING or text.startswith(
        ("Python cannot read the file", "Save the file as UTF-8")
    ):
        return False
    return not ("SyntaxError" in msg or "NotImplementedError" in text or "not implemented yet" in msg)


_UNDEFINED = re.compile(r"(\S+) defines no `")


def attempted(ex: ExerciseResult) -> bool:
    """Whether the student attempted the exercise: not when its file is missing, its every
    failure is the stub's NotImplementedError, or (a single file or a notebook holding every
    exercise) the file defines none of the exercise's names.  A name missing from the
    exercise's own file (a misspelling) is an attempt."""
    if ex.status == ExerciseStatus.MISSING:
        return False
    tests = [t for t in ex.tests if t.status != TestStatus.SKIPPED]
    if not tests or any(t.status == TestStatus.PASSED for t in tests):
        return True  # (a file Python cannot read is an attempt too)
    own = f"{ex.name}_"
    for t in tests:
        if t.kind in NOT_MISCONCEPTIONS or "not implemented yet" in (t.message or ""):
            continue
        m = _UNDEFINED.match(t.message or "")
        if m and not m.group(1).startswith(own):
            continue
        return True
    return False


TROUBLE_KINDS = {
    ErrorKind.TIMEOUT: "timed out",
    ErrorKind.BUDGET: "time budget used up",
    ErrorKind.CRASH: "crashed the worker",
    ErrorKind.PROTOCOL: "sent bad data",
}
# a batch row for a submission whose grading failed (grader.batch.lost), as the summary's trouble list says it
ROW_TROUBLE = {
    ErrorKind.TIMEOUT: "timed out",
    ErrorKind.CRASH: "crashed the grader",
    ErrorKind.INTERNAL: "grader error",
}


class _Tally:
    """What the students' reports say, exercise by exercise, added up."""

    def __init__(self, exercises):
        self.per_ex = {
            ex.name: {
                "name": ex.name,
                "title": ex.title,
                "label": f"{ex.name} · {ex.title}",
                "points": ex.points,
                "sum": 0.0,
                "full": 0,
                "zero": 0,
                "n": 0,
                "load_errors": 0,
                "missing": 0,
                "attempted": 0,
            }
            for ex in exercises
        }
        self.tests: dict = {}  # (exercise, test) -> pass counts
        self.hints: dict = {}  # (exercise, hint) -> the students it was shown to
        self.trouble: list = []  # timed out, crashed, ...
        self.review: list = []  # what the integrity scan flagged (grader.verdicts.integrity)

    def add(self, student: str, ex: ExerciseResult) -> None:
        """One student's report of one exercise."""
        e = self.per_ex.get(ex.name)
        if e is None:
            return
        e["n"] += 1
        e["sum"] += ex.score
        e["full"] += ex.score >= ex.max_score
        e["zero"] += ex.score == 0
        e["load_errors"] += ex.status == ExerciseStatus.LOAD_ERROR
        e["missing"] += ex.status == ExerciseStatus.MISSING
        tried = attempted(ex)
        e["attempted"] += tried
        notes = [str(item.get("message", ""))[:300] for item in ex.review or () if isinstance(item, dict)]
        if notes:
            more = f" (and {len(notes) - 1} more)" if len(notes) > 1 else ""
            self.review.append({"student": student, "exercise": ex.name, "message": notes[0] + more})
        seen = set()
        if ex.hint and ex.status == ExerciseStatus.LOAD_ERROR and _misconception(ex, None):
            seen.add((ex.name, ex.hint, _first_line(ex.message), "(loading the file)"))
            if "took longer" in ex.message or "ended the worker" in ex.message:
                self.trouble.append(
                    {
                        "student": student,
                        "exercise": ex.name,
                        "what": "timed out" if "took longer" in ex.message else "crashed the worker",
                        "message": _first_line(ex.message),
                    }
                )
        kinds = {}
        for t in ex.tests if tried else ():  # pass rates and hints: of those who attempted it
            if t.status == TestStatus.SKIPPED:
                continue
            base = t.name.split("[", 1)[0]
            st = self.tests.setdefault(
                (ex.name, base),
                {
                    "exercise": ex.name,
                    "test": base,
                    "description": t.description,
                    "passed": 0,
                    "total": 0,
                    "students": set(),
                    "failed_students": set(),
                },
            )
            st["total"] += 1
            st["students"].add(student)
            if t.status == TestStatus.PASSED:
                st["passed"] += 1
            else:
                st["failed_students"].add(student)
                if t.hint and _misconception(ex, t):
                    seen.add((ex.name, t.hint, _first_line(t.message), base))
                if t.kind in TROUBLE_KINDS:
                    kinds.setdefault(t.kind, t.message)
        for kind, msg in kinds.items():
            self.trouble.append(
                {"student": student, "exercise": ex.name, "what": TROUBLE_KINDS[kind], "message": _first_line(msg)}
            )
        for exname, hint, msg, test in sorted(seen):  # (a set's order changes with PYTHONHASHSEED)
            h = self.hints.setdefault(
                (exname, hint), {"exercise": exname, "hint": hint, "students": set(), "example": msg, "tests": set()}
            )
            h["students"].add(student)
            h["tests"].add(test)

    def exercise_list(self) -> list:
        ex_list = []
        for e in self.per_ex.values():
            e["mean"] = round(e.pop("sum") / e["n"], 2) if e["n"] else 0.0
            ex_list.append(e)
        return ex_list

    def test_list(self, exercises) -> list:
        test_list = []
        for st in self.tests.values():
            n = len(st.pop("students"))
            failed = len(st.pop("failed_students"))
            st.update(
                rate=round(st["passed"] / st["total"], 4) if st["total"] else 0.0, students=n, students_failing=failed
            )
            test_list.append(st)
        test_list.sort(
            key=lambda s: (
                [ex.name for ex in exercises].index(s["exercise"]) if s["exercise"] in self.per_ex else 99,
                s["test"],
            )
        )
        return test_list

    def hint_list(self) -> list:
        hint_list = [
            {
                "exercise": h["exercise"],
                "hint": h["hint"],
                "students": len(h["students"]),
                "example": h["example"],
                "tests": sorted(h["tests"]),
            }
            for h in self.hints.values()
        ]
        hint_list.sort(key=lambda h: (-h["students"], h["exercise"], h["hint"]))
        return hint_list


def analytics(rows: list[GradeRow], out: Output, exercises, roster=None, names=None) -> dict:
    """The class picture, as plain data (summary.json; rendered as summary.html).  ``rows``:
    as shown (overrides applied); ``roster``: grader.formats.canvas.read_roster's (names
    and sections in the students table); ``names``: Canvas's names from its file names."""
    graded = [r for r in rows if r.status == RowStatus.GRADED]
    tally = _Tally(exercises)
    for r in sorted(graded, key=lambda r: r.student):  # not in the order they finished: the same summary
        rep = out.read_report(r.student)
        for ex in rep.exercises if rep is not None else ():
            tally.add(r.student, ex)
        for o in r.overrides or ():  # the exercise means count the overridden points
            e = tally.per_ex.get(o["exercise"])
            if e is not None:
                e["sum"] += o["to"] - o["from"]
                most = lookup(o["exercise"]).points
                e["full"] += (o["to"] >= most) - (o["from"] >= most)
                e["zero"] += (o["to"] == 0) - (o["from"] == 0)
    who = _roster_records(rows, roster)
    for r in rows:
        if r.status != RowStatus.GRADED and r.kind in ROW_TROUBLE:
            tally.trouble.append(
                {
                    "student": r.student,
                    "exercise": "(whole submission)",
                    "what": ROW_TROUBLE[r.kind],
                    "message": r.reason or "",
                }
            )
    max_total = total_points(exercises)
    totals = sorted(r.score or 0.0 for r in graded)
    bins = [0] * 10
    for t in totals:
        bins[min(9, int(10 * t / max_total)) if max_total else 0] += 1
    n = len(totals)
    median = (totals[n // 2] if n % 2 else (totals[n // 2 - 1] + totals[n // 2]) / 2) if n else 0.0
    ex_list, hint_list = tally.exercise_list(), tally.hint_list()
    data = {
        "students": len(rows),
        "graded": n,
        "errors": len(rows) - n,
        "max_total": max_total,
        "mean": round(sum(totals) / n, 2) if n else 0.0,
        "median": round(median, 2),
        "full_marks": sum(t >= max_total for t in totals),
        "histogram": [
            {"from": round(max_total * i / 10, 2), "to": round(max_total * (i + 1) / 10, 2), "count": c}
            for i, c in enumerate(bins)
        ],
        "histogram_step": max(1, -(-max(bins) // 4)),
        "exercises": ex_list,
        "tests": tally.test_list(exercises),
        "hints": hint_list[:30],
        "hints_total": len(hint_list),
        "trouble": sorted(tally.trouble, key=lambda t: (t["student"], t["exercise"])),
        "errors_list": [
            {"student": r.student, "entry": r.entry, "reason": r.reason or ""}
            for r in rows
            if r.status != RowStatus.GRADED and r.kind not in (ErrorKind.TIMEOUT, ErrorKind.CRASH)
        ],
        "label_width": max((len(e["label"]) for e in ex_list), default=10),
        "students_list": [
            {
                "student": r.student,
                "entry": r.entry,
                "status": r.status,
                "score": r.score,
                "exercises": r.exercises or {},
                "report": r.status == RowStatus.GRADED and all(p.exists() for p in out.report_paths(r.student)),
                "reason": r.reason or "",
                "name": who.get(r.student, {}).get("Student") or (names or {}).get(r.student, ""),
                "section": who.get(r.student, {}).get("Section", ""),
                "late": bool(r.late),
                "overrides": r.overrides or [],
            }
            for r in sorted(rows, key=lambda r: r.student)
        ],
    }
    if tally.review:
        data["review"] = tally.review
    return data


def _roster_records(rows: list[GradeRow], roster) -> dict:
    if not roster:
        return {}
    from grader.formats.canvas import match

    found, _ = match(sorted(r.student for r in rows), roster)
    return found


def render_summary(data: dict, meta: dict) -> str:
    from grader.feedback.report import environment

    env = environment(autoescape=True)
    return env.get_template("summary.html.j2").render(s=data, meta=meta)


def gradebook_unmatched(rows: list[GradeRow], exercises, book) -> tuple:
    from grader.formats.canvas import gradebook

    return gradebook(rows, exercises, **book)


def without_submission(rows: list[GradeRow], book) -> list:
    """Roster students no entry matched (their grades.csv row has no score)."""
    if not book.get("roster"):
        return []
    from grader.formats.canvas import match

    found, _ = match(sorted(r.student for r in rows), book["roster"])
    taken = {id(rec) for rec in found.values()}
    return [rec["Student"] or rec["SIS Login ID"] for rec in book["roster"] if id(rec) not in taken]


def fully_isolated(iso: dict) -> bool:
    """Namespaces (as root, or a user namespace without root) with a private file view and PID namespace."""
    return iso.get("mode") in ("namespaces", "user-namespace") and bool(iso.get("mounts")) and bool(iso.get("pid"))


def isolation_text(iso: dict) -> str:
    if not iso or iso.get("mode") in (None, "none"):
        reason = iso.get("reason") if iso else None
        return "none: resource limits only" + (f" ({reason})" if reason else "")
    parts = [iso["mode"]]
    parts.append(
        "mount+net+pid+ipc"
        if iso.get("pid") and iso.get("net") and iso.get("mounts")
        else ", ".join(k for k in ("mounts", "net", "pid") if iso.get(k))
    )
    if iso.get("mode") == "namespaces":
        parts.append(f"own uid per worker (e.g. {iso.get('uid')})")
    if iso.get("reason"):
        parts.append(f"degraded: {iso['reason']}")
    return "; ".join(parts)
