"""grades.csv as Canvas's gradebook importer reads it, with a roster shaped like Canvas's export.

The importer's rules are encoded below (``canvas_import``) from
instructure/canvas-lms ``app/models/gradebook_importer.rb`` (read through the code
index, file id 398797707: the version with ``ASSIGNMENT_PRELOADED_FIELDS`` and
``Override Status`` columns; the index does not give its commit, and the repository
(2.2 GB) is too large to fetch here) and ``app/models/assignment.rb``
``Assignment.title_and_id`` (``/\\A(.*)\\s\\((\\d+)\\)\\z/``).  Canvas's Download
Submissions layout is from ``lib/content_zipper.rb`` at commit
05e9653c12ef7afc65815ca84e5da7aa2e4c3bd3 (``get_filename``, ``sanitize_user_name``,
``add_upload_submission``), tested in tests/batch/test_canvas_download.py.
"""

from __future__ import annotations

import csv
import io
import re

import pytest

from grader.exercises import lookup
from grader.feedback.records import GradeRow

TITLE_AND_ID = re.compile(r"\A(.*)\s\((\d+)\)\Z", re.S)
NON_ASSIGNMENT = re.compile(
    "Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade|"
    "Override Score|Override Grade|Override Status"
)


def canvas_import(text: str, course: dict) -> dict:
    """What Canvas's importer makes of ``text`` for a course ``{"assignments": {id: title},
    "students": {id: {"name", "sortable_name", "sis_user_id", "login_id"}}}``:
    {"updated": {assignment id: {student id: grade}}, "new_assignments": [titles],
    "new_students": [names], "missing_students": [names], "points_possible": {title: value}}.

    Rules (gradebook_importer.rb): the first row is the header; it is one only if
    ``row.length > 3 && row[0].include?("Student") && row[1].include?("ID")``; the
    student columns are Student, ID, then ``SIS Login ID`` or ``SIS User ID`` followed by
    ``SIS Login ID``, and the last of them must be ``Section`` (else "Invalid header
    row"); the other columns, less NON_ASSIGNMENT, are assignments: ``title (id)`` is
    that id, else the exact title, else a new assignment.  A row whose first cell
    includes "Points Possible" sets points possible; any other row is a student, found
    by ID, then SIS User ID, then SIS Login ID, then name or sortable name, else a new
    student.  When a row is a new student, every course student the file does not
    name is reported missing."""
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert len(header) > 3 and "Student" in header[0] and "ID" in header[1], "Invalid header row"
    n = 3
    sis_user = sis_login = None
    if re.search(r"SIS\s+Login\s+ID", header[2]):
        sis_login, n = 2, 4
    elif re.search(r"SIS\s+User\s+ID", header[2]) and re.search(r"SIS\s+Login\s+ID", header[3]):
        sis_user, sis_login, n = 2, 3, 5
    assert "Section" in header[n - 1], "Invalid header row"
    assignments = []  # (column, id or None, title)
    for i, name in enumerate(header[n:], start=n):
        if NON_ASSIGNMENT.search(name):
            continue
        m = TITLE_AND_ID.match(name)
        aid = int(m.group(2)) if m and int(m.group(2)) in course["assignments"] else None
        if aid is None:
            aid = next((k for k, t in course["assignments"].items() if t == name), None)
        assignments.append((i, aid, m.group(1) if m and aid is None else name))
    out = {
        "updated": {},
        "new_assignments": [t for _, aid, t in assignments if aid is None],
        "new_students": [],
        "missing_students": [],
        "points_possible": {},
    }
    seen = set()
    for row in rows[1:]:
        if "Points Possible" in (row[0] or ""):
            out["points_possible"] = {t: row[i] for i, _, t in assignments}
            continue
        if all(re.fullmatch(r"\s*(Muted|Manual Posting.*)?\s*", c, re.I) for c in row):
            continue
        students = course["students"]
        sid = int(row[1]) if row[1].strip().isdigit() and int(row[1]) in students else None
        if sid is None and sis_user is not None and row[sis_user]:
            sid = next((k for k, s in students.items() if s["sis_user_id"] == row[sis_user]), None)
        if sid is None and sis_login is not None and row[sis_login]:
            sid = next((k for k, s in students.items() if s["login_id"] == row[sis_login]), None)
        if sid is None:
            sid = next((k for k, s in students.items() if row[0] in (s["name"], s["sortable_name"])), None)
        if sid is None:
            out["new_students"].append(row[0])
            continue
        seen.add(sid)
        for i, aid, _ in assignments:
            if aid is not None and row[i].strip() not in ("", "-"):
                out["updated"].setdefault(aid, {})[sid] = row[i].strip()
    if out["new_students"]:
        out["missing_students"] = [s["sortable_name"] for k, s in course["students"].items() if k not in seen]
    return out


# Canvas's own export of the course's gradebook: the Test Student (Student View) is in it
EXPORT = (
    "Student,ID,SIS User ID,SIS Login ID,Section,Homework 3 (12345),Current Score,Final Score\n"
    "    Points Possible,,,,,20,(read only),(read only)\n"
    '"Lovelace, Ada",101,S1,ada@uni.edu,Sec A,,,\n'
    '"O_Brien, Pat",102,S2,pob,Sec A,,,\n'
    '"Doe, Dan",103,S3,dan,Sec B,,,\n'
    '"Student, Test",999,,,Sec A,,,\n'
)
COURSE = {
    "assignments": {12345: "Homework 3", 777: "Homework 2"},
    "students": {
        101: {"name": "Ada Lovelace", "sortable_name": "Lovelace, Ada", "sis_user_id": "S1", "login_id": "ada@uni.edu"},
        102: {"name": "Pat O_Brien", "sortable_name": "O_Brien, Pat", "sis_user_id": "S2", "login_id": "pob"},
        103: {"name": "Dan Doe", "sortable_name": "Doe, Dan", "sis_user_id": "S3", "login_id": "dan"},
    },
}  # the Test Student is not one of all_students
ROWS = [
    GradeRow.from_dict(r)
    for r in (
        {"student": "101", "status": "graded", "score": 15.5, "exercises": {"exercise1": 10.0, "exercise2": 5.5}},
        {"student": "102", "status": "graded", "score": 3.0, "exercises": {"exercise1": 3.0, "exercise2": 0.0}},
    )
]
EXS = [lookup("1"), lookup("2")]


@pytest.fixture
def roster(tmp_path):
    from grader.formats.canvas import read_roster

    p = tmp_path / "export.csv"
    p.write_text(EXPORT)
    return read_roster(p)


def test_an_assignment_with_its_id_is_updated_and_nothing_is_created(roster):
    from grader.formats.canvas import gradebook

    text, unmatched = gradebook(ROWS, EXS, roster=roster, assignment="Homework 3 (12345)")
    got = canvas_import(text, COURSE)
    assert got["new_assignments"] == [] and got["new_students"] == [] and got["missing_students"] == []
    assert got["updated"] == {12345: {101: "15.50", 102: "3.00"}}  # the total, in assignment 12345
    assert got["points_possible"] == {"Homework 3 (12345)": "20"}
    assert unmatched == []


def test_the_test_student_is_neither_a_row_nor_a_student_without_a_submission(roster):
    from grader.batch.analytics import without_submission
    from grader.formats.canvas import gradebook

    assert [r["Student"] for r in roster] == ["Lovelace, Ada", "O_Brien, Pat", "Doe, Dan"]
    text, _ = gradebook(ROWS, EXS, roster=roster, assignment="Homework 3 (12345)")
    assert "Test" not in text
    assert without_submission(ROWS, {"roster": roster}) == ["Doe, Dan"]


def test_per_exercise_columns_only_on_request_and_then_a_warning(roster):
    from grader.formats.canvas import choose_columns, gradebook

    assert choose_columns(None, "Homework 3 (12345)") == ("total", "")
    assert choose_columns(None, "Homework 3") == ("exercises", "")
    columns, warning = choose_columns("exercises", "Homework 3 (12345)")
    assert columns == "exercises" and "12345" in warning and "new assignment" in warning
    text, _ = gradebook(ROWS, EXS, roster=roster, columns="exercises", assignment="Homework 3 (12345)")
    got = canvas_import(text, COURSE)
    assert got["new_assignments"] == ["Homework 3: exercise1 Softmax", "Homework 3: exercise2 Log-softmax"]
    assert 12345 not in got["updated"]  # what the warning says


def test_an_assignment_named_by_its_exact_title_is_updated(roster):
    from grader.formats.canvas import gradebook

    text, _ = gradebook(ROWS, EXS, roster=roster, columns="total", assignment="Homework 2")
    got = canvas_import(text, COURSE)
    assert got["new_assignments"] == [] and got["updated"] == {777: {101: "15.50", 102: "3.00"}}


@pytest.mark.slow
def test_the_batch_warns_when_both_are_asked(tmp_path):
    from tests.batch.test_batch import batch

    (tmp_path / "subs").mkdir()
    r = batch(
        tmp_path / "subs",
        "--out",
        tmp_path / "out",
        "--exercises",
        "1",
        "--gradebook",
        "exercises",
        "--assignment",
        "Homework 3 (12345)",
    )
    assert "warning: --gradebook exercises" in r.stderr and "leaves assignment 12345 untouched" in r.stderr, r.stderr
    head = (tmp_path / "out" / "grades.csv").read_text().splitlines()[0]
    assert head.endswith("Homework 3: exercise1 Softmax")
    r = batch(tmp_path / "subs", "--out", tmp_path / "out2", "--exercises", "1", "--assignment", "Homework 3 (12345)")
    assert "warning" not in r.stderr, r.stderr
    assert (tmp_path / "out2" / "grades.csv").read_text().splitlines()[0].endswith(",Homework 3 (12345)")
