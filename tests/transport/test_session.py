"""grader.transport.session: the budgets of an exercise and of a whole submission, the
file that is not there, and the direction of the dependency between the rules and the
machinery (the transport calls the verdict rules; the rules never import the transport)."""

import subprocess
import sys

import pytest

from grader.errors import ErrorKind, StudentError
from grader.exercises import lookup
from grader.transport.limits import Limits, Spend
from grader.transport.session import Session
from grader.verdicts.rules import Rules


def session(tmp_path, limits=None, spend=None) -> Session:
    # no worker is started by what these tests do (the zygote is never asked)
    return Session(
        lookup("1"), tmp_path / "sub", None, limits or Limits(), tmp_path / "work", spend=spend, rules=Rules()
    )


def test_a_missing_file_is_a_load_error_kept_for_every_later_request(tmp_path):
    s = session(tmp_path)
    with pytest.raises(StudentError) as first:
        s._ensure()
    assert first.value.kind is ErrorKind.MISSING_FILE and s.load_error is first.value
    with pytest.raises(StudentError) as again:
        s._ensure()
    assert again.value is not first.value and again.value.message == first.value.message


def test_the_exercise_budget_then_the_submissions(tmp_path):
    limits = Limits(exercise_budget=30.0, submission_budget=10.0, late_budget=5.0, call_timeout=10.0)
    spend = Spend()
    s = session(tmp_path, limits, spend)
    s.elapsed = 22.0
    assert s._left() == (8.0, None) and s._timeout(10.0) == (8.0, True) and s._timeout(5.0) == (5.0, False)
    spend.seconds = 10.0  # the whole submission has spent its budget: 5 s more for this exercise, from now
    assert s._left() == (5.0, "wall")
    s.elapsed = 27.5
    assert s._left() == (-0.5, "wall")
    with pytest.raises(StudentError) as e:
        s._check_budget()
    assert e.value.kind is ErrorKind.BUDGET and "this submission used up its time budget" in e.value.message


def test_too_many_timeouts_and_the_data_budget(tmp_path):
    limits = Limits(submission_bytes=100, late_bytes=10, max_timeouts=2)
    spend = Spend()
    s = session(tmp_path, limits, spend)
    spend.bytes = 105
    s._check_budget()  # past the submission's bytes: this exercise still gets late_bytes more
    assert s.late_bytes_from == 105
    spend.bytes = 116
    with pytest.raises(StudentError, match="data budget"):
        s._check_budget()
    s.timeouts = 2
    with pytest.raises(StudentError, match="timed out 2 times"):
        s._check_budget()


def test_the_rules_do_not_import_the_process_machinery():
    code = (
        "import sys, grader.verdicts.forbidden, grader.verdicts.integrity; "
        "print(sorted(m for m in sys.modules if m.startswith('grader.transport')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
