"""Instructors' overrides (``grade batch --overrides overrides.csv``): points changed by hand,
on top of what the grader computed, each with its reason and who decided it.

The file is a CSV with a header: ``entry, exercise, points, reason, who``.
``entry`` is the student id (the entry's name, or a Canvas user id), ``exercise``
is ``exercise3`` or ``3``, ``points`` is the new score of that exercise (``8``) or a
change (``+2``, ``-1.5``), ``reason`` says why (it is shown wherever the score is),
``who`` who decided it.  The grader's own results (the students' state and reports)
are never changed: the overrides are applied each time results.csv, grades.csv and
the summary are written, so they hold across regrades and resumes.  A copy of the
last file given is kept in ``--out``/.batch/overrides.csv and used when
``--overrides`` is left out (an empty file clears them).
"""
from __future__ import annotations

import copy
import csv
import io
import re

from grader.exercises import POINTS_PER_EXERCISE

HEADER = ("entry", "exercise", "points", "reason", "who")
_ALIASES = {"student": "entry", "id": "entry", "new points": "points", "delta": "points", "by": "who"}
_NUMBER = re.compile(r"\s*([+-]?)\s*(\d+(?:\.\d*)?|\.\d+)\s*")


class OverridesError(Exception):
    """The overrides file cannot be used: one line for the instructor."""


def parse(text: str, where: str, exercises, entries) -> list:
    """The overrides of ``text`` (the file's content), checked against the batch's
    exercises and entry ids: [{"entry", "exercise", "points" or "delta", "reason", "who", "line"}]."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        return []
    header = [_ALIASES.get(h.strip().lower(), h.strip().lower()) for h in rows[0]]
    missing = [h for h in HEADER if h not in header]
    if missing:
        raise OverridesError(f"{where}: the header must name the columns {', '.join(HEADER)} "
                             f"(missing: {', '.join(missing)}; found: {', '.join(rows[0])})")
    names = {ex.name for ex in exercises}
    known = set(entries)
    out, seen = [], {}
    for n, row in enumerate(rows[1:], start=2):
        rec = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header) if h in HEADER}
        at = f"{where} line {n}"
        if rec["entry"] not in known:
            raise OverridesError(f"{at}: no entry {rec['entry']!r} in SUBMISSIONS (the entry id: a folder's "
                                 "name, a file's name without .zip/.py/.ipynb, or a Canvas user id)")
        ex = rec["exercise"].lower()
        ex = f"exercise{ex}" if ex.isdigit() else ex
        if ex not in names:
            raise OverridesError(f"{at}: {rec['exercise']!r} is not one of the exercises graded "
                                 f"({', '.join(sorted(names))})")
        m = _NUMBER.fullmatch(rec["points"])
        if not m:
            raise OverridesError(f"{at}: points {rec['points']!r} is not a number (new points: 8; a change: +2 or -1.5)")
        value = float(m.group(2))
        if not rec["reason"]:
            raise OverridesError(f"{at}: no reason given (every changed score is shown with its reason)")
        if (rec["entry"], ex) in seen:
            raise OverridesError(f"{at}: {rec['entry']} {ex} is already overridden on line {seen[rec['entry'], ex]}; "
                                 "keep one line per student and exercise")
        seen[rec["entry"], ex] = n
        item = {"entry": rec["entry"], "exercise": ex, "reason": rec["reason"], "who": rec["who"], "line": n}
        if m.group(1):
            item["delta"] = value if m.group(1) == "+" else -value
        else:
            if value > POINTS_PER_EXERCISE:
                raise OverridesError(f"{at}: {value:g} points is more than the exercise's {POINTS_PER_EXERCISE:g}")
            item["points"] = value
        out.append(item)
    return out


def apply(rows: list, overrides: list) -> tuple:
    """(the rows with the overrides applied, [overrides not applied, with why]).  A graded
    row gets its exercise's new points, a new total and ``overrides``: [{"exercise",
    "from", "to", "reason", "who"}]; the input rows are not changed."""
    by_entry: dict = {}
    for o in overrides:
        by_entry.setdefault(o["entry"], []).append(o)
    out, skipped = [], []
    for row in rows:
        mine = by_entry.get(row["student"])
        if not mine:
            out.append(row)
            continue
        if row.get("status") != "graded":
            skipped.extend(dict(o, why="the entry could not be graded") for o in mine)
            out.append(row)
            continue
        row = copy.deepcopy(row)
        applied = []
        for o in mine:
            before = float(row["exercises"].get(o["exercise"], 0.0))
            after = o["points"] if "points" in o else before + o["delta"]
            after = round(min(POINTS_PER_EXERCISE, max(0.0, after)), 2)
            row["exercises"][o["exercise"]] = after
            applied.append({"exercise": o["exercise"], "from": before, "to": after, "reason": o["reason"],
                            "who": o["who"]})
        row["score"] = round(sum(row["exercises"].values()), 4)
        row["overrides"] = applied
        out.append(row)
    return out, skipped


def describe(item: dict) -> str:
    """'exercise3 4.00 → 8.00 (late penalty waived, by TA Kim)'."""
    who = f", by {item['who']}" if item.get("who") else ""
    return f"{item['exercise']} {item['from']:.2f} → {item['to']:.2f} ({item['reason']}{who})"
