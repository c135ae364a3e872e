"""The report reaches the renderers, the platforms' formats and the batch's class analytics as
records (grader.feedback.records): they read attributes (``t.status``, ``ex.score``), never the
report's JSON keys (``t["status"]``), and compare statuses with the declared vocabulary
(``TestStatus``, ``ExerciseStatus``, ``RowStatus``), never with spelled-out strings."""
import ast
import json
from pathlib import Path

import pytest

from grader.errors import ErrorKind
from grader.feedback.records import ExerciseStatus, Report, RowStatus, TestStatus

ROOT = Path(__file__).resolve().parents[2]

# the modules that take a report as records: the renderers, the formats, and the grade command's path
# from the harness (grader.harness.run.grade) to them
CHECKED = ["grader/feedback/report.py", "grader/feedback/failure.py", "grader/harness/run.py",
           "grader/commands/grade_here.py"] + sorted(
    str(p.relative_to(ROOT)) for p in (ROOT / "grader" / "formats").glob("*.py")
    if p.name not in ("canvas.py",))  # canvas.py reads the batch's grade rows, not a report: see PENDING
PENDING = ["grader/formats/canvas.py"]  # the batch's grade rows (grader.batch) are dicts still
FEEDBACK = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "grader" / "feedback").glob("*.py")
                  if p.name != "records.py")  # records.py declares the words
# the submission readers mark an exercise they refused (grader.statuses: below the records)
SUBMISSION = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "grader" / "submission").glob("*.py"))
BATCH = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "grader" / "batch").glob("*.py")) + PENDING
# the batch's functions that read a student's report (the rest read its rows, dicts still)
BATCH_READERS = {"grader/batch/analytics.py": {"_misconception", "attempted", "add"}}

# the keys of the report's JSON data (records.py's fields, and the data's usual extras)
RECORD_KEYS = {"status", "score", "max_score", "tests", "exercises", "message", "hint", "name", "description",
               "visible", "kind", "trace", "reproducer", "devices", "title", "file", "review", "seed",
               "submission", "grader_version", "torch_version", "cuda", "notes", "edition", "summary", "checks"}
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
}


def _lookups(path: str, root: Path = ROOT):
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
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
              and node.args and isinstance(node.args[0], ast.Constant)):
            key, target = node.args[0].value, node.func.value
        if key in RECORD_KEYS and not (isinstance(target, ast.Attribute) and target.attr == "extra"):
            yield where.get(node), key, f"line {node.lineno}: [{key!r}]"
        if isinstance(node, ast.Compare):
            for side in (node.left, *node.comparators):  # a word, or a word in a tuple, list or set
                for c in side.elts if isinstance(side, (ast.Tuple, ast.List, ast.Set)) else (side,):
                    if isinstance(c, ast.Constant) and c.value in STATUS_WORDS:
                        yield where.get(node), c.value, f"line {node.lineno}: compared with {c.value!r}"


def test_the_checked_modules_exist():
    assert all((ROOT / p).is_file() for p in CHECKED + PENDING) and len(CHECKED) >= 8


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


def test_every_allowed_lookup_is_still_there():
    """An exception that nothing needs any more is taken off the list."""
    seen = {(path, fn, key) for path in CHECKED + sorted(BATCH_READERS) for fn, key, _ in _lookups(path)}
    assert set(ALLOWED) <= seen, set(ALLOWED) - seen


def test_the_check_finds_a_dict_lookup_and_a_spelled_status(tmp_path):
    (tmp_path / "bad.py").write_text('def f(t, report):\n    return t["status"] == "failed" or report.extra.get("notes")\n')
    assert {(fn, key) for fn, key, _ in _lookups("bad.py", tmp_path)} == {("f", "status"), ("f", "failed")}


def test_statuses_and_kinds_are_read_into_the_vocabulary_and_written_as_plain_strings():
    test = {"name": "t", "description": "", "status": "error", "score": 0.0, "max_score": 1.0, "message": "m",
            "hint": "", "visible": False, "kind": "timeout"}
    ex = {"name": "exercise1", "title": "x", "file": "x.py", "score": 0.0, "max_score": 10.0, "status": "graded",
          "message": "", "hint": "", "tests": [test]}
    data = {"score": 0.0, "max_score": 10.0, "exercises": [ex], "seed": 0, "submission": "s",
            "grader_version": "v", "torch_version": "v", "cuda": False}
    report = Report.from_dict(data)
    [e] = report.exercises
    [t] = e.tests
    assert e.status is ExerciseStatus.GRADED and t.status is TestStatus.ERROR and t.kind is ErrorKind.TIMEOUT
    out = report.to_dict()
    statuses = [out["exercises"][0]["status"], out["exercises"][0]["tests"][0]["status"],
                out["exercises"][0]["tests"][0]["kind"]]
    assert [type(s) for s in statuses] == [str, str, str] and out == data
    assert json.dumps(out) == json.dumps(data)
    with pytest.raises(ValueError):
        Report.from_dict(dict(data, exercises=[dict(ex, status="great")]))
