"""Entries a batch must survive: names that are too long for a file name of their own
(237 to 255 bytes), names holding a line feed, a carriage return or a tab, and notebooks
that once stopped a whole class's batch (100,000 nested brackets in the metadata; a cell
holding the escape ``\\ud800``).  The batch finishes, writes grades.csv, gives each such
entry its own error row, and a rerun (resuming) works the same."""

from __future__ import annotations

import csv
import io
import json

import pytest

from grader.batch.output import state_file
from tests.batch.test_batch import EX1, SOLUTIONS, batch, write
from tests.submission.test_reader_fuzz import DEEP_METADATA, LONE_SURROGATE

# Slow by design: a batch of odd entries, graded and then resumed.
pytestmark = pytest.mark.slow

ARGS = ["--exercises", "1", "--seed-secret", "s", "--timeout-scale", "0.3", "--jobs", "1"]
LONG = {"x" * 237: "folder", "y" * 251 + ".py": "py", "z" * 255: "folder", "\u00e9" * 127: "folder"}
CONTROL = ["line\nfeed", "carriage\rreturn", "tab\there", "\nleading", "bell\x07"]


def _class(subs):
    write(subs / "ada", {EX1: (SOLUTIONS / EX1).read_text()})
    (subs / "deep.ipynb").write_text(DEEP_METADATA)
    (subs / "lone.ipynb").write_text(LONE_SURROGATE)
    for name, kind in LONG.items():
        if kind == "folder":
            write(subs / name, {EX1: (SOLUTIONS / EX1).read_text()})
        else:
            (subs / name).write_text((SOLUTIONS / EX1).read_text())
    for name in CONTROL:
        write(subs / name, {EX1: (SOLUTIONS / EX1).read_text()})


def _rows(text: str) -> list:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_odd_names_and_broken_notebooks_are_each_their_own_bad_entry(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    _class(subs)
    for attempt in ("first", "rerun"):
        r = batch(subs, "--out", out, *ARGS)
        assert r.returncode == 1, (attempt, r.stderr)
        assert "Traceback" not in r.stderr, r.stderr
        if attempt == "rerun":
            assert "0 to grade, 1 unchanged" in r.stderr, r.stderr
        results = (out / "results.csv").read_text()
        grades = (out / "grades.csv").read_text()
        by_id = {row[0]: row for row in _rows(results)[2:]}
        assert by_id["ada"][-1] == "graded" and by_id["ada"][1] == "10.00"
        assert "nested too deeply" in by_id["deep"][-1]
        assert "\\ud800" in by_id["lone"][-1]
        for name in LONG:
            student = name.removesuffix(".py")
            assert by_id[student][-1].startswith("error:"), (student, by_id[student])
            assert json.loads(state_file(out, student).read_text())["student"] == student
        # no control character of a name reaches a gradebook: each row is one line
        for text in (results, grades):
            assert not any(c in text for c in "\r\t\x07"), repr(text)
            assert len(text.splitlines()) == len(_rows(text)), repr(text)
        assert "line\\x0afeed" in by_id and "carriage\\x0dreturn" in by_id and "tab\\x09here" in by_id
        assert "'\\x0aleading" in by_id or "\\x0aleading" in by_id
        assert "line\\x0afeed" in grades
        html = (out / "summary.html").read_text()
        assert "line\\x0afeed" in html and "line\nfeed" not in html and "carriage\rreturn" not in html
        last = r.stderr.strip().splitlines()[-1]
        assert "line\\x0afeed" in last, last
