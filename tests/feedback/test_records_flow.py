"""The report reaches the renderers, the platforms' formats and the batch's class analytics as
records (grader.feedback.records): they read attributes (``t.status``, ``ex.score``), never the
report's JSON keys (``t["status"]``), and compare statuses with the declared vocabulary
(``TestStatus``, ``ExerciseStatus``, ``RowStatus``), never with spelled-out strings.  So do the
batch's gradebook rows (``GradeRow``) where the gradebook, results.csv, grades.csv, the summary
and the progress lines read them."""

import ast
import dataclasses
import json
import re
from pathlib import Path

import pytest

from grader.errors import ErrorKind
from grader.feedback.records import (
    ExerciseResult,
    ExerciseStatus,
    GradeRow,
    Report,
    RowStatus,
    TestResult,
    TestStatus,
)

ROOT = Path(__file__).resolve().parents[2]

# the modules that take a report as records: the renderers, the formats, and the grade command's path
# from the harness (grader.harness.run.grade) to them
CHECKED = [
    "grader/feedback/report.py",
    "grader/feedback/failure.py",
    "grader/harness/run.py",
    "grader/commands/grade_here.py",
] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "grader" / "formats").glob("*.py"))
FEEDBACK = sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "grader" / "feedback").glob("*.py") if p.name != "records.py"
)  # records.py declares the words
# the submission readers mark an exercise they refused (grader.statuses: below the records)
SUBMISSION = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "grader" / "submission").glob("*.py"))
BATCH = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "grader" / "batch").glob("*.py"))
# the batch's functions that read a student's report (the rest read its rows, dicts still)
BATCH_READERS = {"grader/batch/analytics.py": {"_misconception", "attempted", "add"}}

# the functions that read the batch's gradebook rows (the grading processes and the pool make and
# pass the rows' JSON data: it crosses processes and is the state file)
ROW_READERS = {
    "grader/batch/analytics.py": {"analytics", "_roster_records", "gradebook_unmatched", "without_submission"},
    "grader/batch/output.py": {"read_state", "status_text", "write_csv", "apply_overrides"},
    "grader/batch/progress.py": {"update"},
    "grader/batch/command.py": {
        "shown_rows",
        "_plan_entry",
        "_grade",
        "on_done",
        "_summarize",
        "_overrides_list",
        "_conclude",
    },
    "grader/formats/canvas.py": {"gradebook", "scores"},
}


def _fields(*records) -> set:
    """The field names of record classes (their JSON data's keys), less ``extra``."""
    return {f.name for r in records for f in dataclasses.fields(r)} - {"extra"}


# a gradebook row's keys: GradeRow's fields, and the batch's own "run"
ROW_KEYS = _fields(GradeRow) | {"run"}

# the keys of the report's JSON data (records.py's fields, and the data's usual extras)
RECORD_KEYS = _fields(TestResult, ExerciseResult, Report) | {"notes", "edition", "summary", "checks"}
STATUS_WORDS = {s.value for s in TestStatus} | {s.value for s in ExerciseStatus} | {s.value for s in RowStatus}

# (file, function, key): a lookup of such a key in JSON that is not a report, and why
ALLOWED = {
    ("grader/harness/run.py", "job_report", "notes"): "the report's JSON data, as a grading process hands it over",
    ("grader/formats/autograder.py", "run", "exercises"): "the autograder's own config file",
    ("grader/formats/autograder.py", "run", "seed"): "the autograder's own config file",
    ("grader/formats/autograder.py", "main", "score"): "the Gradescope results.json it wrote",
    ("grader/formats/github.py", "output_line", "tests"): "the Classroom reporter's payload",
    ("grader/formats/github.py", "output_line", "message"): "the Classroom reporter's payload",
    ("grader/formats/junit.py", "render", "tests"): "JUnit's counters (<testsuite tests=...>)",
    ("grader/batch/analytics.py", "add", "message"): "an integrity review item (a plain dict of the scan's)",
    ("grader/batch/analytics.py", "add", "tests"): "the tally's own entry of a hint (summary.json's data)",
    ("grader/batch/analytics.py", "analytics", "student"): "the tally's own list of trouble (summary.json's data)",
    ("grader/batch/output.py", "apply_overrides", "entry"): "an instructor's override (a parsed line of its CSV)",
    ("grader/batch/output.py", "apply_overrides", "reason"): "an instructor's override (a parsed line of its CSV)",
    ("grader/batch/command.py", "_plan_entry", "run"): "the forced regrade's marker file",
    ("grader/batch/command.py", "_summarize", "overrides"): "summary.json's data",
    ("grader/batch/command.py", "_summarize", "entry"): "an override that was not applied",
    ("grader/batch/command.py", "_summarize", "reason"): "an override that was not applied",
    ("grader/batch/command.py", "_conclude", "overrides"): "summary.json's data",
    ("grader/batch/command.py", "_conclude", "entry"): "an override that was not applied (summary.json's data)",
}


def _lookups(path: str, root: Path = ROOT, keys: set = RECORD_KEYS):
    """(function, key, what) of every subscript or ``.get`` with a report key, and every comparison
    with a status word, in ``path`` (what ``extra``, the records' untyped part, holds is allowed)."""
    tree = ast.parse((root / path).read_text())
    where = {}
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                where[node] = fn.name  # the innermost function wins: ast.walk goes outside in
    for node in ast.walk(tree):
        key = target = None
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key, target = node.slice.value, node.value
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            key, target = node.args[0].value, node.func.value
        if key in keys and not (isinstance(target, ast.Attribute) and target.attr == "extra"):
            yield where.get(node), key, f"line {node.lineno}: [{key!r}]"
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):  # a word, or a word in a tuple, list or set
                for c in side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else (side,):
                    if isinstance(c, ast.Constant) and c.value in STATUS_WORDS:
                        yield where.get(node), c.value, f"line {node.lineno}: compared with {c.value!r}"


def test_the_checked_modules_exist():
    assert all((ROOT / p).is_file() for p in CHECKED + sorted(ROW_READERS)) and len(CHECKED) >= 8


@pytest.mark.parametrize("path", CHECKED)
def test_renderers_and_formats_read_records_not_dicts(path):
    found = [what for fn, key, what in _lookups(path) if (path, fn, key) not in ALLOWED]
    assert not found, f"{path} reads the report as a dict or spells a status out: {found}"


@pytest.mark.parametrize("path", FEEDBACK + BATCH + SUBMISSION)
def test_feedback_the_batch_and_the_readers_spell_no_status_out(path):
    found = [what for _, key, what in _lookups(path) if key in STATUS_WORDS]
    assert not found, f"{path} compares with a status spelled out: {found}"


@pytest.mark.parametrize("path", sorted(BATCH_READERS))
def test_the_batch_reads_reports_as_records(path):
    found = [what for fn, key, what in _lookups(path) if fn in BATCH_READERS[path] and (path, fn, key) not in ALLOWED]
    assert not found, f"{path} reads a report as a dict or spells a status out: {found}"


@pytest.mark.parametrize("path", sorted(ROW_READERS))
def test_the_batch_reads_its_rows_as_records(path):
    found = [
        what
        for fn, key, what in _lookups(path, keys=ROW_KEYS)
        if fn in ROW_READERS[path] and (path, fn, key) not in ALLOWED
    ]
    assert not found, f"{path} reads a gradebook row as a dict or spells a status out: {found}"


TEMPLATES = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "grader" / "feedback" / "templates").glob("*.j2"))
_WORD = "|".join(sorted(STATUS_WORDS))
# a status word compared with (== "passed", "passed" != ...), looked up in (in ("passed", ...)) or a key ("missing": ...)
SPELLED = re.compile(rf"""(?:==|!=|\bin\b[^%}}]*?)\s*["']({_WORD})["']|["']({_WORD})["']\s*(?:==|!=|:)""")


def _spelled(text: str) -> list:
    """Status words a template compares with, spelled out, inside its {% %} and {{ }} tags."""
    tags = re.findall(r"{%.*?%}|{{.*?}}", text, re.S)
    return [m.group(0) for tag in tags for m in SPELLED.finditer(tag)]


@pytest.mark.parametrize("path", TEMPLATES)
def test_the_templates_compare_with_the_vocabulary(path):
    found = _spelled((ROOT / path).read_text(encoding="utf-8"))
    assert not found, f"{path} compares with a status spelled out (name TestStatus, ExerciseStatus, RowStatus): {found}"


def test_the_template_check_finds_a_spelled_status():
    bad = (
        '{% for t in ex.tests if t.status == "passed" %}{% set b = {"missing": "x"} %}'
        '{% if "error" != r.status or r.status in ("graded",) %}<details class="failed">'
    )
    assert len(_spelled(bad)) == 4 and not _spelled('<details class="failed">{{ t.status == TestStatus.PASSED }}')


def test_every_allowed_lookup_is_still_there():
    """An exception that nothing needs any more is taken off the list."""
    seen = {(path, fn, key) for path in CHECKED + sorted(BATCH_READERS) for fn, key, _ in _lookups(path)}
    seen |= {(path, fn, key) for path in ROW_READERS for fn, key, _ in _lookups(path, keys=ROW_KEYS)}
    assert set(ALLOWED) <= seen, set(ALLOWED) - seen


def test_the_check_finds_a_dict_lookup_and_a_spelled_status(tmp_path):
    (tmp_path / "bad.py").write_text(
        'def f(t, report):\n    return t["status"] == "failed" or report.extra.get("notes")\n'
    )
    assert {(fn, key) for fn, key, _ in _lookups("bad.py", tmp_path)} == {("f", "status"), ("f", "failed")}


def test_statuses_and_kinds_are_read_into_the_vocabulary_and_written_as_plain_strings():
    test = {
        "name": "t",
        "description": "",
        "status": "error",
        "score": 0.0,
        "max_score": 1.0,
        "message": "m",
        "hint": "",
        "visible": False,
        "kind": "timeout",
    }
    ex = {
        "name": "exercise1",
        "title": "x",
        "file": "x.py",
        "score": 0.0,
        "max_score": 10.0,
        "status": "graded",
        "message": "",
        "hint": "",
        "tests": [test],
    }
    data = {
        "score": 0.0,
        "max_score": 10.0,
        "exercises": [ex],
        "seed": 0,
        "submission": "s",
        "grader_version": "v",
        "torch_version": "v",
        "cuda": False,
    }
    report = Report.from_dict(data)
    [e] = report.exercises
    [t] = e.tests
    assert e.status is ExerciseStatus.GRADED and t.status is TestStatus.ERROR and t.kind is ErrorKind.TIMEOUT
    out = report.to_dict()
    statuses = [
        out["exercises"][0]["status"],
        out["exercises"][0]["tests"][0]["status"],
        out["exercises"][0]["tests"][0]["kind"],
    ]
    assert [type(s) for s in statuses] == [str, str, str] and out == data
    assert json.dumps(out) == json.dumps(data)
    with pytest.raises(ValueError):
        Report.from_dict(dict(data, exercises=[dict(ex, status="great")]))
