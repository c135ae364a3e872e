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
    code = (
        "import sys, grader.transport.limits; "
        "print(sorted(m for m in sys.modules if m.startswith('grader') or m in ('torch', 'socket', 'subprocess')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(out) == ["grader", "grader.transport", "grader.transport.limits"]


def test_the_worker_is_told_every_cap_it_applies_and_nothing_else():
    import ast
    from pathlib import Path

    from grader.transport.limits import WORKER_CAPS

    lim = Limits(memory_bytes=1 << 30, processes=7, hide=(Path("/srv/answers"),))
    caps = lim.worker_caps()
    assert caps["memory_bytes"] == 1 << 30 and caps["processes"] == 7 and caps["hide"] == ["/srv/answers"]
    assert set(caps) == set(WORKER_CAPS)
    # the keys the worker side reads from its limits (lim["..."], lim.get("...")) are those it is told
    root = Path(__file__).resolve().parents[2] / "grader" / "untrusted"
    read = set()
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            target = (
                node.func.value
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                else node.value
                if isinstance(node, ast.Subscript)
                else None
            )
            key = node.args[0] if isinstance(node, ast.Call) and node.args else getattr(node, "slice", None)
            if isinstance(target, ast.Name) and target.id == "lim" and isinstance(key, ast.Constant):
                read.add(key.value)
    # besides: the worker's folder and whether it has a GPU (Worker adds them), and userns (tests force it)
    assert read - {"workdir", "cuda", "userns"} <= set(WORKER_CAPS), read
    assert "memory_bytes" in read and "hide" in read
