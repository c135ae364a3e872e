"""grader.transport.limits: the caps and budgets are plain data, importable alone."""
import subprocess
import sys

from grader.transport.limits import Limits, Spend


def test_scaled_multiplies_every_time_and_nothing_else():
    base = Limits()
    big = base.scaled(3.0)
    for name in ("call_timeout", "load_timeout", "exercise_budget", "submission_budget", "late_budget"):
        assert getattr(big, name) == getattr(base, name) * 3.0, name
    for name in ("max_timeouts", "memory_bytes", "reply_bytes", "submission_bytes", "late_bytes", "hide"):
        assert getattr(big, name) == getattr(base, name), name
    assert base.call_timeout == Limits().call_timeout  # a copy, not changed in place


def test_spend_starts_at_nothing_and_takes_no_other_field():
    s = Spend()
    assert (s.seconds, s.bytes) == (0.0, 0)
    try:
        s.other = 1
    except AttributeError:
        pass
    else:
        raise AssertionError("Spend has slots: a misspelt field must fail")


def test_limits_import_no_process_machinery():
    code = ("import sys, grader.transport.limits; "
            "print(sorted(m for m in sys.modules if m.startswith('grader') or m in ('torch', 'socket', 'subprocess')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(out) == ["grader", "grader.transport", "grader.transport.limits"]
