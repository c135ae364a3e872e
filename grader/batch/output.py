"""Results on disk (--out): each student's reports and state, results.csv and grades.csv,
and the instructor's overrides applied on top of the computed scores."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import re
from pathlib import Path

from grader.errors import ErrorKind
from grader.exercises import lookup, total_points
from grader.feedback.numbers import points_text
from grader.feedback.records import GradeRow, Report, RowStatus

STATE_DIR = ".batch"


def state_name(student: str) -> str:
    """The file name of a student's state: a hash of the student id, so that any id a file
    system allows as an entry name (up to 255 bytes, any characters) names a state file too;
    the id itself is inside (``"student"``)."""
    return hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:32] + ".json"


def state_file(root: Path, student: str) -> Path:
    """Where a student's state lives under the batch's ``--out`` folder ``root``."""
    return Path(root) / STATE_DIR / "state" / state_name(student)


class Output:
    def __init__(self, root: Path):
        self.root = root
        self.reports = root / "reports"
        self.state = root / STATE_DIR / "state"
        self.reports.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(parents=True, exist_ok=True)

    def state_path(self, student: str) -> Path:
        return self.state / state_name(student)

    def read_state(self, student: str) -> GradeRow | None:
        """The student's last row; None where there is none, or none that reads (graded again)."""
        try:
            return GradeRow.from_dict(json.loads(self.state_path(student).read_text()))
        except (OSError, ValueError, TypeError, AttributeError):
            return None

    def write_state(self, row: GradeRow | dict) -> None:
        """``row``: the record, or its JSON data as a grading process made it."""
        from grader.atomic import write_atomic

        data = row.to_dict() if isinstance(row, GradeRow) else row
        write_atomic(self.state_path(data["student"]), json.dumps(data, indent=1, sort_keys=True) + "\n")

    def report_paths(self, student: str) -> tuple:
        return self.reports / f"{student}.json", self.reports / f"{student}.html"

    @staticmethod
    def render_report(report: Report | dict) -> dict:
        """A student's report files, as text ({"json": ..., "html": ...}): the same for the
        local batch and a cluster's (grader.batch.cluster_host), which writes them here."""
        from grader.feedback.report import render
        from grader.formats.common import for_platform

        shown = for_platform(report)  # no advice for a student's terminal (--submission)
        return {"json": render(shown, "json"), "html": render(shown, "html")}

    def write_report(self, student: str, report: Report | dict) -> None:
        from grader.atomic import write_atomic

        files = self.render_report(report)
        js, html = self.report_paths(student)
        write_atomic(js, files["json"])
        write_atomic(html, files["html"])

    def read_report(self, student: str) -> Report | None:
        """The student's report as written (its JSON file read into the record), or None."""
        try:
            return Report.from_dict(json.loads(self.report_paths(student)[0].read_text()))
        except (OSError, ValueError, TypeError, AttributeError):  # missing, cut short, not a report
            return None

    def remove_report(self, student: str) -> None:
        for p in self.report_paths(student):
            try:
                p.unlink()
            except OSError:
                pass

    def clean_partial(self) -> None:
        """Temporary files of writes that an interruption cut short."""
        for folder in (self.reports, self.state, self.root):
            for p in folder.glob(".*.tmp"):
                try:
                    p.unlink()
                except OSError:
                    pass


def error_row(task: dict, kind: ErrorKind, reason: str, elapsed=None) -> dict:
    """The gradebook row of a student whose grading failed (``kind``: timeout, crash, internal)."""
    row = {
        "student": task["student"],
        "entry": task["entry"],
        "key": task["key"],
        "seed": task["seed"],
        "status": RowStatus.ERROR,
        "kind": kind,
        "reason": reason,
    }
    if elapsed is not None:
        row["elapsed"] = round(elapsed, 3)
    return row


def _csv_safe(text: str) -> str:
    # a spreadsheet would run a cell that starts like a formula, or show it reordered
    from grader.feedback.textsafe import csv_cell

    return csv_cell(text)


def status_text(row: GradeRow) -> str:
    late = " (LATE on Canvas)" if row.late else ""
    if row.status == RowStatus.GRADED:
        if row.internal:
            return "graded (internal grader error in " + ", ".join(row.internal) + "; please report it)" + late
        text = "graded" + late
        if row.overrides:
            text += "; overridden: " + "; ".join(describe_override(o) for o in row.overrides)
        return text
    return "error: " + " ".join(str(row.reason or "").split()) + late


def write_csv(path: Path, rows: list[GradeRow], exercises, gradebook: dict | None = None) -> list:
    """results.csv at ``path`` and Canvas's grades.csv beside it; returns the
    entries matching no roster student.  ``gradebook``: roster, columns, assignment."""
    from grader.atomic import write_atomic
    from grader.formats.canvas import gradebook as canvas

    text, unmatched = canvas(rows, exercises, **(gradebook or {}))
    write_atomic(path.with_name("grades.csv"), text)

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Student"] + [ex.name for ex in exercises] + ["Total", "Status"])
    w.writerow(["Points Possible"] + [f"{ex.points:g}" for ex in exercises] + [f"{total_points(exercises):g}", ""])
    for row in sorted(rows, key=lambda r: r.student):
        if row.status == RowStatus.GRADED:
            scores = [points_text((row.exercises or {}).get(ex.name, 0.0)) for ex in exercises] + [
                points_text(row.score)
            ]
        else:
            scores = [""] * (len(exercises) + 1)
        w.writerow([_csv_safe(row.student)] + scores + [_csv_safe(status_text(row))])
    write_atomic(path, buf.getvalue())
    return unmatched


# ---------------------------------------------------------------------------
# overrides
#
# Instructors' overrides (``grade batch --overrides overrides.csv``): points changed by hand,
# on top of what the grader computed, each with its reason and who decided it.
#
# The file is a CSV with a header: ``entry, exercise, points, reason, who``.
# ``entry`` is the student id (the entry's name, or a Canvas user id), ``exercise``
# is ``exercise3`` or ``3``, ``points`` is the new score of that exercise (``8``) or a
# change (``+2``, ``-1.5``), ``reason`` says why (it is shown wherever the score is),
# ``who`` who decided it.  The grader's own results (the students' state and reports)
# are never changed: the overrides are applied each time results.csv, grades.csv and
# the summary are written, so they hold across regrades and resumes.  A copy of the
# last file given is kept in ``--out``/.batch/overrides.csv and used when
# ``--overrides`` is left out (an empty file clears them).


OVERRIDES_HEADER = ("entry", "exercise", "points", "reason", "who")
_OVERRIDE_ALIASES = {"student": "entry", "id": "entry", "new points": "points", "delta": "points", "by": "who"}
_NUMBER = re.compile(r"\s*([+-]?)\s*(\d+(?:\.\d*)?|\.\d+)\s*")


class OverridesError(Exception):
    """The overrides file cannot be used: one line for the instructor."""


def parse_overrides(text: str, where: str, exercises, entries) -> list:
    """The overrides of ``text`` (the file's content), checked against the batch's
    exercises and entry ids: [{"entry", "exercise", "points" or "delta", "reason", "who", "line"}]."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return []
    header = [_OVERRIDE_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in rows[0]]
    missing = [h for h in OVERRIDES_HEADER if h not in header]
    if missing:
        raise OverridesError(
            f"{where}: the header must name the columns {', '.join(OVERRIDES_HEADER)} "
            f"(missing: {', '.join(missing)}; found: {', '.join(rows[0])})"
        )
    names = {ex.name: ex for ex in exercises}
    known = set(entries)
    out, seen = [], {}
    for n, row in enumerate(rows[1:], start=2):
        rec = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header) if h in OVERRIDES_HEADER}
        at = f"{where} line {n}"
        if rec["entry"] not in known:
            raise OverridesError(
                f"{at}: no entry {rec['entry']!r} in SUBMISSIONS (the entry id: a folder's "
                "name, a file's name without .zip/.py/.ipynb, or a Canvas user id)"
            )
        ex = rec["exercise"].lower()
        ex = f"exercise{ex}" if ex.isdigit() else ex
        if ex not in names:
            raise OverridesError(
                f"{at}: {rec['exercise']!r} is not one of the exercises graded ({', '.join(sorted(names))})"
            )
        m = _NUMBER.fullmatch(rec["points"])
        if not m:
            raise OverridesError(
                f"{at}: points {rec['points']!r} is not a number (new points: 8; a change: +2 or -1.5)"
            )
        value = float(m.group(2))
        if not rec["reason"]:
            raise OverridesError(f"{at}: no reason given (every changed score is shown with its reason)")
        if (rec["entry"], ex) in seen:
            raise OverridesError(
                f"{at}: {rec['entry']} {ex} is already overridden on line {seen[rec['entry'], ex]}; "
                "keep one line per student and exercise"
            )
        seen[rec["entry"], ex] = n
        item = {"entry": rec["entry"], "exercise": ex, "reason": rec["reason"], "who": rec["who"], "line": n}
        if m.group(1):
            item["delta"] = value if m.group(1) == "+" else -value
        else:
            most = names[ex].points
            if value > most:
                raise OverridesError(f"{at}: {value:g} points is more than the exercise's {most:g}")
            item["points"] = value
        out.append(item)
    return out


def apply_overrides(rows: list[GradeRow], overrides: list) -> tuple:
    """(the rows with the overrides applied, [overrides not applied, with why]).  A graded
    row gets its exercise's new points, a new total and ``overrides``: [{"exercise",
    "from", "to", "reason", "who"}]; the input rows are not changed."""
    by_entry: dict = {}
    for o in overrides:
        by_entry.setdefault(o["entry"], []).append(o)
    out, skipped = [], []
    for row in rows:
        mine = by_entry.get(row.student)
        if not mine:
            out.append(row)
            continue
        if row.status != RowStatus.GRADED:
            skipped.extend(dict(o, why="the entry could not be graded") for o in mine)
            out.append(row)
            continue
        exercises = dict(row.exercises or {})
        applied = []
        for o in mine:
            before = float(exercises.get(o["exercise"], 0.0))
            after = o["points"] if "points" in o else before + o["delta"]
            after = round(min(lookup(o["exercise"]).points, max(0.0, after)), 2)
            exercises[o["exercise"]] = after
            applied.append(
                {"exercise": o["exercise"], "from": before, "to": after, "reason": o["reason"], "who": o["who"]}
            )
        out.append(
            dataclasses.replace(row, exercises=exercises, score=round(sum(exercises.values()), 4), overrides=applied)
        )
    return out, skipped


def describe_override(item: dict) -> str:
    """'exercise3 4.00 → 8.00 (late penalty waived, by TA Kim)'."""
    who = f", by {item['who']}" if item.get("who") else ""
    return f"{item['exercise']} {points_text(item['from'])} → {points_text(item['to'])} ({item['reason']}{who})"
