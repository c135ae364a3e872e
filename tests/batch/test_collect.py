"""Getting submissions in and grades out: Canvas's Download Submissions as it comes, a
roster shaped like Canvas's export, overrides by hand, the class summary and the progress.

Canvas's download layout is from instructure/canvas-lms ``lib/content_zipper.rb`` at
commit 05e9653c12ef7afc65815ca84e5da7aa2e4c3bd3: ``get_filename`` joins the user's
sortable name (``sanitize_user_name``: ``_<digits>_`` squeezed out, lower case), ``LATE``
when the submission is late, and the user id with ``_``, then removes every non-word
character (``sanitize_file_name``); ``add_upload_submission`` appends ``_<attachment
id>_<file name>``; a text entry is ``<that>_text.html``, a URL ``<that>_link.html``.
"""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from grader.feedback.records import GradeRow
from tests.batch.test_batch import EX1, EX2, SECRET, SOLUTIONS, STUBS, UNSTABLE_SOFTMAX, batch, read_csv, write
from tests.conftest import CHROMIUM


def canvas_name(sortable: str, uid: int, late: bool = False) -> str:
    """Canvas's get_filename (content_zipper.rb), in Python."""
    name = re.sub(r"_(\d+)_", r"\1", sortable).lower()
    return re.sub(r"[^\w]", "", "_".join([name] + (["LATE"] if late else []) + [str(uid)]))


CANVAS_EXPORT = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Homework 3 (12345)\n"
    "    Points Possible,,,,,20\n"
    '"Lovelace, Ada",101,S1,ada@uni.edu,Sec A,\n'
    '"O_Brien, Pat",102,S2,pob,Sec A,\n'
    '"Doe, Dan",103,S3,dan,Sec B,\n'
    '"Smith, Sam",104,S4,sam,Sec B,\n'
    '"Absent, Alan",105,S5,alan,Sec B,\n'
    '"Student, Test",999,,,Sec A,\n'
)


def canvas_download(subs: Path) -> None:
    """Canvas's Download Submissions, unzipped: two files of Ada; Pat (a name with an
    underscore) LATE, whose second upload of a name Canvas renamed "-1"; Dan's one zip;
    Sam's text entry."""
    subs.mkdir(parents=True)
    ada, pat, dan, sam = (
        canvas_name("Lovelace, Ada", 101),
        canvas_name("O_Brien, Pat", 102, late=True),
        canvas_name("Doe, Dan", 103),
        canvas_name("Smith, Sam", 104),
    )
    assert (ada, pat) == ("lovelaceada_101", "o_brienpat_LATE_102")
    (subs / f"{ada}_5001_{EX1}").write_text((SOLUTIONS / EX1).read_text())
    (subs / f"{ada}_5002_{EX2}").write_text((SOLUTIONS / EX2).read_text())
    (subs / f"{pat}_5003_{EX1}").write_text(UNSTABLE_SOFTMAX)
    (subs / f"{pat}_5004_{EX2}").write_text((STUBS / EX2).read_text())
    (subs / f"{pat}_5006_exercise2_log_softmax-1.py").write_text((SOLUTIONS / EX2).read_text())  # the later one
    with zipfile.ZipFile(subs / f"{dan}_5005_homework3.zip", "w") as z:
        z.writestr("hw3/" + EX1, (SOLUTIONS / EX1).read_text())
    (subs / f"{sam}_text.html").write_text("<p>my answer is in my head</p>")


# ---------------------------------------------------------------------------
# the layout, read without grading


def test_canvas_download_is_one_entry_per_user_id(tmp_path):
    from grader.batch.entries import scan
    from grader.exercises import select

    canvas_download(tmp_path / "subs")
    entries = {e.student: e for e in scan(tmp_path / "subs", select(["1", "2"]))}
    assert sorted(entries) == ["101", "102", "103", "104"]
    assert sorted(entries["101"].files) == [EX1, EX2] and not entries["101"].late
    assert entries["102"].late and entries["102"].canvas_name == "o_brienpat"
    assert entries["102"].files[EX2] == (SOLUTIONS / EX2).read_bytes()  # the later upload of that name
    assert entries["103"].files == {EX1: (SOLUTIONS / EX1).read_bytes()} and not entries["103"].error
    assert "text entry" in entries["104"].error
    assert not entries["101"].entry.endswith(".py")  # several files: not read as one file holding all


def test_renamed_uploads_and_anonymous_grading(tmp_path):
    """A resubmitted file of the same name is renamed by Canvas ("-1"); with anonymous
    grading get_filename uses "anon_<anonymous id>" and no name."""
    from grader.batch.entries import scan
    from grader.exercises import select

    subs = tmp_path / "subs"
    write(
        subs,
        {
            f"lovelaceada_101_6001_{EX1[:-3]}-1.py": (SOLUTIONS / EX1).read_text(),
            f"LATE_anon_x7Qd2_6002_{EX1}": "x = 1\n",
            f"anon_p0Zk9_6003_{EX2}": "y = 2\n",
            "anon_p0Zk9_6004_notes.txt": "my notes\n",
        },
    )
    entries = {e.student: e for e in scan(subs, select(["1", "2"]))}
    assert sorted(entries) == ["101", "anon_p0Zk9", "anon_x7Qd2"]
    assert entries["101"].files == {EX1: (SOLUTIONS / EX1).read_bytes()}  # its own name, not all-in-one
    assert entries["anon_x7Qd2"].late and not entries["anon_p0Zk9"].late
    assert entries["anon_p0Zk9"].files == {EX2: b"y = 2\n"}


def test_loose_exercise_files_are_refused_not_graded_as_students(tmp_path):
    write(tmp_path / "subs", {EX1: "x = 1\n", EX2: "y = 2\n"})
    r = batch(tmp_path / "subs", "--out", tmp_path / "out", "--exercises", "1", "2")
    assert r.returncode == 2, r.stderr
    assert "loose exercise files" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out" / "results.csv").exists()


def test_a_roster_that_matches_nobody_stops_the_batch_and_says_why(tmp_path):
    write(tmp_path / "subs" / "alice", {EX1: "x = 1\n"})
    write(tmp_path / "subs" / "bob", {EX1: "x = 1\n"})
    (tmp_path / "roster.csv").write_text(CANVAS_EXPORT)
    r = batch(tmp_path / "subs", "--out", tmp_path / "out", "--exercises", "1", "--roster", tmp_path / "roster.csv")
    assert r.returncode != 0, r.stderr
    assert "matches none of the 2 entries" in r.stderr and "alice" in r.stderr and "Traceback" not in r.stderr


# ---------------------------------------------------------------------------
# overrides


def test_overrides_are_checked_and_applied_on_the_computed_scores():
    from grader.batch.output import OverridesError
    from grader.batch.output import apply_overrides as apply
    from grader.batch.output import parse_overrides as parse
    from grader.exercises import select

    exs = select(["1", "2"])
    text = (
        "entry,exercise,points,reason,who\nada,exercise1,8,regrade request: the test was ambiguous,TA Kim\n"
        "ben,2,+1.5,partial credit,Prof. Lee\nben,exercise1,-20,copied,Prof. Lee\n"
    )
    items = parse(text, "o.csv", exs, ["ada", "ben", "cy"])
    rows = [
        {"student": "ada", "status": "graded", "score": 15.0, "exercises": {"exercise1": 5.0, "exercise2": 10.0}},
        {"student": "ben", "status": "graded", "score": 12.0, "exercises": {"exercise1": 6.0, "exercise2": 6.0}},
        {"student": "cy", "status": "graded", "score": 0.0, "exercises": {"exercise1": 0.0, "exercise2": 0.0}},
    ]
    rows = [GradeRow.from_dict(r) for r in rows]
    shown, skipped = apply(rows, items)
    assert [r.score for r in shown] == [18.0, 7.5, 0.0] and skipped == []
    assert shown[1].exercises == {"exercise1": 0.0, "exercise2": 7.5}  # never below 0
    assert shown[0].overrides == [
        {
            "exercise": "exercise1",
            "from": 5.0,
            "to": 8.0,
            "reason": "regrade request: the test was ambiguous",
            "who": "TA Kim",
        }
    ]
    assert rows[0].score == 15.0 and rows[0].exercises["exercise1"] == 5.0  # the computed rows are not changed
    for bad, needle in (
        ("ada,exercise1,8,,TA\n", "no reason"),
        ("zed,exercise1,8,r,TA\n", "no entry 'zed'"),
        ("ada,exercise7,8,r,TA\n", "not one of the exercises"),
        ("ada,1,eight,r,TA\n", "not a number"),
        ("ada,1,12,r,TA\n", "more than"),
        ("ada,1,8,r,TA\nada,1,9,r,TA\n", "already overridden"),
    ):
        with pytest.raises(OverridesError, match=needle):
            parse("entry,exercise,points,reason,who\n" + bad, "o.csv", exs, ["ada", "ben"])
    with pytest.raises(OverridesError, match="header"):
        parse("student,points\nada,8\n", "o.csv", exs, ["ada"])


def test_results_csv_shows_an_override_and_the_late_mark():
    from grader.batch.output import status_text

    row = {
        "student": "ada",
        "status": "graded",
        "late": True,
        "overrides": [{"exercise": "exercise1", "from": 5.0, "to": 8.0, "reason": "regrade", "who": "TA Kim"}],
    }
    assert (
        status_text(GradeRow.from_dict(row))
        == "graded (LATE on Canvas); overridden: exercise1 5.00 → 8.00 (regrade, by TA Kim)"
    )


# ---------------------------------------------------------------------------
# the summary


def _single_file_report() -> dict:
    """A single .py that stopped after exercise 1: exercise 2's every test says the file
    defines no log_softmax."""
    tests2 = [
        _test(
            name=f"test_{i}",
            kind="exception",
            hint="The exercise asks for a name exactly `log_softmax`; check its spelling",
            message="cy.py defines no `log_softmax` (it defines: softmax, torch)",
        )
        for i in range(3)
    ]
    tests1 = [_test(name="test_stable", hint="Subtract the row's max before exp", message="overflow")]
    return {
        "score": 0.0,
        "max_score": 20,
        "exercises": [_exercise("exercise1", tests1), _exercise("exercise2", tests2)],
        "seed": 0,
        "submission": "cy.py",
        "grader_version": "x",
        "torch_version": "x",
        "cuda": False,
    }


def _test(**fields) -> dict:
    """A failed test of a report's JSON data."""
    return {
        "name": "test_x",
        "description": "",
        "status": "failed",
        "score": 0.0,
        "max_score": 1.0,
        "message": "",
        "hint": "",
        "visible": False,
        **fields,
    }


def _exercise(name: str, tests: list) -> dict:
    return {
        "name": name,
        "title": name,
        "file": f"{name}.py",
        "score": 0.0,
        "max_score": 10,
        "status": "graded",
        "message": "",
        "hint": "",
        "tests": tests,
    }


def test_exercises_not_attempted_are_neither_misconceptions_nor_failures(tmp_path):
    from grader.batch.analytics import analytics, attempted
    from grader.batch.output import Output
    from grader.exercises import select
    from grader.feedback.records import ExerciseResult

    out = Output(tmp_path / "out")
    out.report_paths("cy")[0].write_text(json.dumps(_single_file_report()))
    rows = [{"student": "cy", "status": "graded", "score": 0.0, "exercises": {"exercise1": 0.0, "exercise2": 0.0}}]
    data = analytics([GradeRow.from_dict(r) for r in rows], out, select(["1", "2"]))
    assert [h["exercise"] for h in data["hints"]] == ["exercise1"]
    assert [t["exercise"] for t in data["tests"]] == ["exercise1"]
    assert [e["attempted"] for e in data["exercises"]] == [1, 0]
    misspelt = _exercise(
        "exercise2", [_test(message="exercise2_log_softmax.py defines no `log_softmax` (it defines: logsoftmax)")]
    )
    assert attempted(ExerciseResult.from_dict(misspelt))  # its own file, a misspelt name: an attempt


def _class_of(n: int) -> tuple:
    from grader.exercises import select

    exs = select(["1", "2"])
    rows, roster = [], []
    for i in range(n):
        sid = str(1000 + i)
        graded = i % 17 != 5
        rows.append(
            {
                "student": sid,
                "entry": f"s{sid}/",
                "status": "graded" if graded else "error",
                "score": float(i % 21) if graded else None,
                "reason": "" if graded else "corrupt zip",
                "exercises": {"exercise1": float(min(10, i % 21)), "exercise2": float(i % 21 - min(10, i % 21))}
                if graded
                else {},
                **({"late": True} if i % 9 == 0 else {}),
            }
        )
        roster.append(
            {
                "Student": f"Name{i:03d}, Student",
                "ID": sid,
                "SIS User ID": f"S{i}",
                "SIS Login ID": "",
                "Section": f"Sec {'ABC'[i % 3]}",
            }
        )
    roster.append({"Student": "Absent, Alan", "ID": "9", "SIS User ID": "", "SIS Login ID": "", "Section": "Sec A"})
    roster.append({"Student": "Ghost, Gina", "ID": "8", "SIS User ID": "", "SIS Login ID": "", "Section": "Sec A"})
    return exs, rows, roster


def _summary_page(tmp_path, n=300) -> Path:
    from grader.batch.analytics import analytics, render_summary, without_submission
    from grader.batch.output import Output

    exs, rows, roster = _class_of(n)
    rows[1] = dict(
        rows[1],
        overrides=[{"exercise": "exercise1", "from": 1.0, "to": 4.0, "reason": "regrade request", "who": "TA Kim"}],
    )
    records = [GradeRow.from_dict(r) for r in rows]
    data = analytics(records, Output(tmp_path / "out"), exs, roster=roster)
    data["roster"] = {
        "used": True,
        "unmatched": [],
        "without_submission": without_submission(records, {"roster": roster}),
    }
    data["overrides"] = [dict(o, student=rows[1]["student"]) for o in rows[1]["overrides"]]
    data["overrides_skipped"] = []
    meta = {
        "submissions": "subs",
        "exercises": ["exercise1", "exercise2"],
        "jobs": 2,
        "graded_now": n,
        "skipped": 0,
        "elapsed": "1m00s",
        "isolation": "namespaces",
        "grader": "abc",
        "secret_from": "file",
    }
    page = tmp_path / "out" / "summary.html"
    page.write_text(render_summary(data, meta))
    return page


def test_the_students_table_has_roster_names_sections_and_the_roster_lists_people(tmp_path):
    html = _summary_page(tmp_path, n=30).read_text()
    assert "<td>Name004, Student</td><td>Sec B</td>" in html
    assert "<li>Absent, Alan</li><li>Ghost, Gina</li>" in html and "Absent, Alan, Ghost" not in html
    assert 'id="q"' in html and "<option>Sec C</option>" in html and 'class="pill late"' in html
    assert "regrade request" in html and "http" not in html.split("<script>")[1]  # nothing fetched


def _dom(page: Path, fragment: str, tmp_path: Path) -> str:
    r = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile-dom'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri() + fragment,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return r.stdout


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium: apt-get install -y chromium")
def test_the_students_table_sorts_and_filters_in_a_browser_at_300_rows(tmp_path):
    from tests.conftest import screenshot

    page = _summary_page(tmp_path)
    dom = _dom(page, "#sort=total-desc&section=Sec%20B", tmp_path)
    rows = re.findall(r"<tr( hidden=\"\")?><td>(?:<a [^>]*>)?(\d+)", dom.split('id="students"')[1].split("</table>")[0])
    shown = [sid for hidden, sid in rows if not hidden]
    assert len(rows) == 300 and len(shown) == 100  # Sec B: every third
    assert "100 of 300 shown" in dom and 'aria-sort="descending"' in dom
    totals = [(int(s) - 1000) % 21 for s in shown if (int(s) - 1000) % 17 != 5]
    assert totals == sorted(totals, reverse=True)
    png = screenshot(page, tmp_path / "summary.png", tmp_path / "profile")
    assert png.exists() and png.stat().st_size > 20_000


# ---------------------------------------------------------------------------
# progress


def test_start_up_and_the_students_in_progress_are_shown(monkeypatch):
    import io

    from grader.batch.progress import Progress

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("CI", raising=False)
    tty = Tty()
    p = Progress(3, tty)
    p.starting(2)
    p.event("tick", None)
    p.event("ready", 0)
    p.event("start", "ada")
    p.event("start", "ben")
    text = tty.getvalue()
    assert "starting 2 grading processes" in text and "first grading process ready" in text
    assert "grading ada (0s), ben (0s)" in text
    p.update(GradeRow.from_dict({"student": "ada", "status": "graded", "score": 20.0, "max_score": 20.0}))
    assert tty.getvalue().rsplit("\r", 1)[-1].count("ada") == 0  # done: no longer in progress
    monkeypatch.setenv("CI", "true")
    plain = Tty()
    p = Progress(1, plain)
    p.starting(1)
    p.event("ready", 0)
    p.event("start", "ada")
    assert plain.getvalue().splitlines() == [
        "grade batch: starting 1 grading process (each imports torch, pytest, the reference and the hidden tests; "
        "on a busy machine this takes a while) …",
        "grade batch: first grading process ready after 0s; grading",
    ]


# ---------------------------------------------------------------------------
# the whole round trip: Canvas's download in, a regrade with overrides, Canvas's gradebook out


@pytest.mark.slow
def test_canvas_download_graded_with_a_canvas_roster_overrides_and_a_regrade(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    canvas_download(subs)
    (tmp_path / "roster.csv").write_text(CANVAS_EXPORT)
    (tmp_path / "overrides.csv").write_text(
        "entry,exercise,points,reason,who\n102,exercise1,+2,regrade request: overflow only for huge inputs,TA Kim\n"
    )
    common = [
        "--exercises",
        "1",
        "2",
        "--seed-secret",
        SECRET,
        "--timeout-scale",
        "0.5",
        "--jobs",
        "2",
        "--roster",
        tmp_path / "roster.csv",
        "--assignment",
        "Homework 3 (12345)",
    ]
    r = batch(subs, "--out", out, *common, "--overrides", tmp_path / "overrides.csv", timeout=400)
    assert r.returncode == 1, r.stderr  # Sam's text entry cannot be graded
    assert "starting 2 grading processes" in r.stderr and "1 score overridden by hand" in r.stderr

    def check():
        results = {row[0]: row for row in read_csv(out, "results.csv")[2:]}
        assert sorted(results) == ["101", "102", "103", "104"]
        assert results["101"][1:4] == ["10.00", "10.00", "20.00"]
        ex1 = float(results["102"][1])
        assert results["102"][3] == f"{ex1 + 10:.2f}" and results["102"][2] == "10.00"
        assert results["102"][4].startswith("graded (LATE on Canvas); overridden: exercise1 ")
        assert "regrade request: overflow only for huge inputs, by TA Kim" in results["102"][4]
        assert results["103"][1:4] == ["10.00", "0.00", "10.00"]
        assert "text entry" in results["104"][4]
        grades = read_csv(out)
        assert grades[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Homework 3 (12345)"]
        by_id = {row[1]: row for row in grades[2:]}
        assert sorted(by_id) == ["101", "102", "103", "104", "105"]  # no Test Student
        assert by_id["101"][5] == "20.00" and by_id["102"][5] == results["102"][3] and by_id["105"][5] == ""
        summary = json.loads((out / "summary.json").read_text())
        assert summary["roster"]["without_submission"] == ["Absent, Alan"]
        names = {s["student"]: (s["name"], s["section"], s["late"]) for s in summary["students_list"]}
        assert names["102"] == ("O_Brien, Pat", "Sec A", True) and names["101"] == ("Lovelace, Ada", "Sec A", False)
        assert [o["student"] for o in summary["overrides"]] == ["102"]
        return results

    first = check()
    # a regrade of Pat without --overrides: the kept overrides still apply; then a resume (nothing to grade)
    r = batch(subs, "--out", out, *common, "--only", "102", timeout=400)
    assert r.returncode == 1 and "kept from an earlier run" in r.stderr, r.stderr
    assert check() == first
    r = batch(subs, "--out", out, *common, timeout=400)
    assert "0 to grade" in r.stderr and check() == first
