"""Canvas gradebook import (``grades.csv``) and the roster that maps a
class's submission entries to Canvas students.

Canvas's importer (instructure/canvas-lms app/models/gradebook_importer.rb)
wants the header ``Student, ID, SIS User ID, SIS Login ID, Section`` (Section
last of the student columns), then one column per assignment named
``Title (assignment id)`` or just the exact title (an unknown title creates an
assignment), and a ``Points Possible`` row.  A blank score means "no score".
Students are matched by ID, then SIS User ID, then SIS Login ID, then name.

A roster is a Canvas gradebook export (or any CSV with a ``Student`` column
and some of ``ID``, ``SIS User ID``, ``SIS Login ID``, ``Section``, or
``login``/``email``/``name`` columns).  An entry of SUBMISSIONS matches a
roster student whose SIS Login ID (or the part of an e-mail before the @),
SIS User ID, ID or name equals the entry's id, ignoring case and punctuation.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata

from grader.feedback.numbers import points_text
from grader.feedback.records import GradeRow, RowStatus
from grader.feedback.textsafe import csv_cell

STUDENT_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
_ALIASES = {
    "student": "Student",
    "name": "Student",
    "student name": "Student",
    "id": "ID",
    "canvas id": "ID",
    "sis user id": "SIS User ID",
    "sis id": "SIS User ID",
    "student id": "SIS User ID",
    "sis login id": "SIS Login ID",
    "login": "SIS Login ID",
    "login id": "SIS Login ID",
    "username": "SIS Login ID",
    "email": "SIS Login ID",
    "section": "Section",
}


class RosterError(Exception):
    pass


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]", "", text)


def _name_keys(name: str) -> set:
    keys = {_key(name)}
    if "," in name:  # "Lovelace, Ada" is also "Ada Lovelace"
        last, first = name.split(",", 1)
        keys.add(_key(first + last))
    return keys - {""}


def read_roster(path) -> list:
    """The roster's students as dicts with the five Canvas student columns."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            text = f.read()
    except OSError as e:
        raise RosterError(f"cannot read the roster {path} ({e.strerror or e})") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    if not rows:
        raise RosterError(f"the roster {path} is empty")
    header = [_ALIASES.get(h.strip().lower(), h.strip()) for h in rows[0]]
    if "Student" not in header and "SIS Login ID" not in header:
        raise RosterError(f"the roster {path} has no Student or login column (its header: {', '.join(rows[0][:8])})")
    out = []
    for row in rows[1:]:
        rec = {c: "" for c in STUDENT_COLUMNS}
        for h, v in zip(header, row):
            if h in rec and not rec[h]:
                rec[h] = v.strip()
        if not any(rec.values()) or "points possible" in rec["Student"].lower() or is_test_student(rec["Student"]):
            continue
        out.append(rec)
    return out


def is_test_student(name: str) -> bool:
    """Canvas's "Student View" user, exported as "Student, Test" (its sortable name)."""
    return _key(name) in ("teststudent", "studenttest")


ASSIGNMENT_ID = re.compile(r"\A(.*)\s\((\d+)\)\Z", re.S)  # Canvas's Assignment.title_and_id


def assignment_id(assignment: str) -> str:
    """The Canvas assignment id in "Homework 3 (12345)", or ""."""
    m = ASSIGNMENT_ID.match(assignment or "")
    return m.group(2) if m else ""


def choose_columns(columns, assignment: str) -> tuple:
    """(the gradebook's columns, a warning or "").  ``columns``: "exercises", "total" or None (not
    asked): an assignment with its id updates that assignment, so its total is the default; one
    column per exercise is a new Canvas assignment per exercise (the id is then not used)."""
    if columns is None:
        return ("total" if assignment_id(assignment) else "exercises"), ""
    if columns == "exercises" and assignment_id(assignment):
        return columns, (
            f'--gradebook exercises with --assignment "{assignment}": Canvas creates one new '
            f"assignment per exercise column and leaves assignment {assignment_id(assignment)} "
            "untouched; leave --gradebook out to update it with the total"
        )
    return columns, ""


def match(students: list, roster: list) -> tuple:
    """({entry id: roster record}, [entry ids matching nobody]).  An id that
    matches several roster students is unmatched (it is listed, not guessed)."""
    index: dict = {}
    by_id: dict = {}  # Canvas's user id (the ID column): an exact match wins (Canvas's downloads use it)
    for i, rec in enumerate(roster):
        if rec["ID"]:
            by_id.setdefault(rec["ID"], set()).add(i)
        keys = set()
        login = rec["SIS Login ID"]
        for v in (login, login.split("@", 1)[0] if "@" in login else "", rec["SIS User ID"], rec["ID"]):
            if v:
                keys.add(_key(v))
        keys |= _name_keys(rec["Student"])
        for k in keys - {""}:
            index.setdefault(k, set()).add(i)
    found, unmatched = {}, []
    for s in students:
        hits = by_id.get(s) or index.get(_key(s), set())
        if len(hits) == 1:
            found[s] = roster[next(iter(hits))]
        else:
            unmatched.append(s)
    return found, unmatched


def gradebook(rows: list[GradeRow], exercises, *, roster=None, columns=None, assignment: str = "") -> tuple:
    """(CSV text, unmatched entry ids).  ``rows``: the batch's rows (student,
    status, score, exercises).  ``columns``: "exercises" (one column each),
    "total" (one assignment column) or None (the total when ``assignment``
    carries its id, else one column each).  ``assignment``: the assignment's
    title in Canvas, ideally with its id, e.g. "Homework 3 (12345)"."""
    from grader.exercises import total_points

    columns, _ = choose_columns(columns, assignment)
    if columns == "total":
        titles = [assignment or "nngrade total"]
        possible = [total_points(exercises)]
    else:
        prefix = re.sub(r"\s*\(\d+\)\s*$", "", assignment).strip()
        titles = [f"{prefix}: {ex.name} {ex.title}" if prefix else f"{ex.name} {ex.title}" for ex in exercises]
        possible = [ex.points for ex in exercises]
    by_student = {r.student: r for r in rows}

    def scores(row: GradeRow | None) -> list:
        if row is None or row.status != RowStatus.GRADED:
            return [""] * len(titles)
        if columns == "total":
            return [points_text(row.score)]
        return [points_text((row.exercises or {}).get(ex.name, 0.0)) for ex in exercises]

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(STUDENT_COLUMNS + titles)
    w.writerow(["Points Possible", "", "", "", ""] + [f"{p:g}" for p in possible])
    unmatched = []
    if roster is None:
        for s in sorted(by_student):
            w.writerow([csv_cell(s), "", "", csv_cell(s), ""] + scores(by_student[s]))
    else:
        found, unmatched = match(sorted(by_student), roster)
        entry_of = {id(rec): s for s, rec in found.items()}
        for rec in roster:  # every roster student, in the roster's order; no submission: no score
            entry = entry_of.get(id(rec))
            w.writerow([csv_cell(rec[c]) for c in STUDENT_COLUMNS] + scores(by_student.get(entry) if entry else None))
    return buf.getvalue(), unmatched
