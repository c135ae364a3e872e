"""The grader's ``prctl`` calls are named functions of ``grader.untrusted.syscalls``: no other
module calls the C library's ``prctl`` itself (``ctypes.CDLL(None).prctl(36, ...)``), where a bare
number says nothing of what is asked and a refusal goes unchecked."""

import ast
import os
import signal
from pathlib import Path

import pytest

import grader
from grader.untrusted import syscalls

GRADER = Path(grader.__file__).resolve().parent
HOME = GRADER / "untrusted" / "syscalls.py"


def _raw_prctl_calls(path: Path) -> list:
    """``x.prctl(...)`` calls in a file: a C library's function reached as an attribute (the
    named functions are imported by name: ``from grader.untrusted.syscalls import prctl``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [
        f"{path.relative_to(GRADER.parent)}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "prctl"
    ]


def test_no_module_but_syscalls_calls_prctl_raw():
    raw = [call for path in sorted(GRADER.rglob("*.py")) if path != HOME for call in _raw_prctl_calls(path)]
    assert not raw, "call a named function of grader.untrusted.syscalls instead:\n" + "\n".join(raw)
    assert _raw_prctl_calls(HOME), "the check looks for what syscalls itself does"


@pytest.mark.skipif(not hasattr(os, "fork") or not Path("/proc/self/status").exists(), reason="Linux only")
def test_the_named_calls_take_effect():
    """In a child (the settings are the process's own): the parent-death signal is SIGKILL and
    the child became a subreaper, as the kernel reports them back."""
    import ctypes

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            syscalls.set_pdeathsig()
            syscalls.set_child_subreaper()
            libc = ctypes.CDLL(None, use_errno=True)
            sig, reaper = ctypes.c_int(0), ctypes.c_int(0)
            libc.prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
            libc.prctl(37, ctypes.byref(reaper), 0, 0, 0)  # PR_GET_CHILD_SUBREAPER
            os.write(w, f"{sig.value} {reaper.value}".encode())
        finally:
            os._exit(0)
    os.close(w)
    got = os.read(r, 100).decode()
    os.waitpid(pid, 0)
    assert got == f"{int(signal.SIGKILL)} 1"
