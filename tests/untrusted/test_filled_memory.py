"""A call made with ``fill_uninitialised`` (grader.untrusted.server.filled_memory): memory torch
allocates without filling reads as nan in every run, and torch's deterministic mode is on for that
request only: off again after it, whether the call returned, raised, or timed out.

Run against a real worker (the session's zygote), with exercise 4's layer whose bias is torch.empty."""

from pathlib import Path

import pytest
import torch

from grader.errors import StudentError
from grader.exercises import lookup
from grader.transport.limits import Limits
from grader.transport.student import Call, Student
from grader.verdicts.rules import Rules

ROOT = Path(__file__).resolve().parents[2]
HELPERS = """

def boom():
    torch.empty(3)
    raise ValueError("boom")


def spin():
    while True:
        pass
"""
DETERMINISTIC = Student.torch("are_deterministic_algorithms_enabled")


@pytest.fixture
def student(zygote, tmp_path):
    ex = lookup("4")
    (tmp_path / "sub").mkdir()
    source = (ROOT / "tests" / "corpus" / "exercise4" / "bug_uninitialised_bias.py").read_text()
    (tmp_path / "sub" / ex.file).write_text(source + HELPERS)
    s = Student(ex, tmp_path / "sub", zygote, Limits(call_timeout=2.0), tmp_path / "work", rules=Rules())
    s.begin_test("test_something")
    yield s
    s.close()


def _bias(student, **options):
    lin = student.call(student.ref("Linear"), 20, 6, **options)
    return student.getattr(lin, "bias")


def test_a_bias_never_filled_reads_as_nan_every_time(student):
    for _ in range(5):
        _bias(student)  # memory freed that a later torch.empty may be handed back, zeros or garbage
        b = _bias(student, _fill_uninitialised=True)
        assert b.shape == (6,) and bool(torch.isnan(b).all()), b


def test_the_mode_is_on_for_the_request_only(student):
    assert student.call(DETERMINISTIC) is False
    assert student.call(DETERMINISTIC, _fill_uninitialised=True) is True
    assert student.call(DETERMINISTIC) is False
    _bias(student, _fill_uninitialised=True)
    assert student.call(DETERMINISTIC) is False


def test_off_again_when_the_call_or_a_call_made_first_raises(student):
    with pytest.raises(StudentError, match="boom"):
        student.call(student.ref("boom"), _fill_uninitialised=True)
    assert student.call(DETERMINISTIC) is False
    with pytest.raises(StudentError):
        student.call(student.ref("Linear"), 2, 1, _before=[Call(student.ref("boom"))], _fill_uninitialised=True)
    assert student.call(DETERMINISTIC) is False


def test_off_in_the_worker_after_a_timeout(student):
    with pytest.raises(StudentError, match="did not finish"):
        student.call(student.ref("spin"), _fill_uninitialised=True, _timeout=1.0)
    assert student.call(DETERMINISTIC) is False


@pytest.mark.slow
def test_the_uninitialised_bias_gets_the_same_report_every_time(tmp_path, grade_folder):
    ex = lookup("4")
    (tmp_path / "sub").mkdir()
    source = ROOT / "tests" / "corpus" / "exercise4" / "bug_uninitialised_bias.py"
    (tmp_path / "sub" / ex.file).write_text(source.read_text())
    # before torch filled the memory, about one run in five found zeros there and passed
    reports = [grade_folder(tmp_path / "sub", "exercise4", seed=1234) for _ in range(8)]
    assert all(r == reports[0] for r in reports)
    [bias] = [t for t in reports[0]["exercises"][0]["tests"] if t["name"] == "test_bias_starts_at_zero"]
    assert bias["status"] == "failed" and "no random generator gives" in bias["message"]
