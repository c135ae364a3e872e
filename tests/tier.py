"""The tests' two tiers: the fast one a developer runs while editing (``pytest -m "not slow"``)
and the tests marked ``slow``; CI runs both.

A test not marked slow may not start what takes seconds: a cold `grade` that grades (it imports
torch), a batch, a virtual environment or an install.  ``run_cli`` (tests/conftest.py) runs a
fast test's `grade` with ``-X importtime`` and fails the test if that `grade` imported torch
(help and usage errors end before it); any other start of `grade`, venv or pip from a fast test
is refused as it starts, by an audit hook.  tests/conftest.py's ``pytest_runtest_protocol``
says which test is running and in which tier (``STATE``); the state lives here because this
module is imported once, as ``tests.tier``, while the conftest is imported twice (as pytest's
``conftest`` and as the test modules' ``tests.conftest``).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading

import pytest

STATE = {"fast": False, "test": ""}
_installed = False

# `python -m NAME ...` that a fast test may not start (`grade` only through run_cli)
HEAVY_MODULES = {
    "grader.cli": "a cold `grade`",
    "venv": "a virtual environment",
    "pip": "an install",
    "ensurepip": "an install",
}
MARK_IT = "mark the test @pytest.mark.slow (tests/tier.py)"


class SlowInFastTier(Exception):
    """A test not marked slow started something that takes seconds."""


def heavy_start(argv) -> str | None:
    """What ``argv`` starts, if a fast test may not start it; None if it may."""
    argv = [str(a) for a in argv] if isinstance(argv, (list, tuple)) else str(argv).split()
    for i, arg in enumerate(argv[:-1]):
        if arg == "-m" and argv[i + 1] in HEAVY_MODULES:
            if argv[i + 1] == "grader.cli" and "importtime" in argv[:i]:
                return None  # run_cli's checked start: it fails the test itself if torch was imported
            return HEAVY_MODULES[argv[i + 1]]
    return None


def _audit(event: str, args: tuple) -> None:
    if not STATE["fast"] or event not in ("subprocess.Popen", "os.exec", "os.posix_spawn"):
        return
    what = heavy_start(args[1])
    if what:
        raise SlowInFastTier(f"{STATE['test']} starts {what} but is not marked slow: {MARK_IT}")


def install() -> None:
    """Watch the processes the tests start (once per interpreter: audit hooks stay for good)."""
    global _installed
    if not _installed:
        sys.addaudithook(_audit)
        _installed = True


def run_until_torch(argv: list, cwd, timeout: float, env=None) -> subprocess.CompletedProcess:
    """Run ``[python, "-m", ...]`` with ``-X importtime``: stopped, and the test failed, as soon as
    it imports torch; else its CompletedProcess (text; stderr without the import-time lines)."""
    argv = [argv[0], "-X", "importtime", *argv[1:]]
    kept = []
    with tempfile.TemporaryFile("w+") as out:
        p = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.PIPE, text=True, env=env)
        late: list = []
        timer = threading.Timer(timeout, lambda: (late.append(True), p.kill()))
        timer.start()
        try:
            for line in p.stderr:  # type: ignore[union-attr]
                if not line.startswith("import time:"):
                    kept.append(line)
                elif line.rsplit("|", 1)[-1].strip().partition(".")[0] == "torch":
                    p.kill()
                    p.wait()
                    pytest.fail(
                        f"{STATE['test']}: `grade {' '.join(argv[5:])}` imports torch (a cold grade takes "
                        f"seconds): {MARK_IT}",
                        pytrace=False,
                    )
            p.wait()
        finally:
            timer.cancel()
        if late:
            raise subprocess.TimeoutExpired(argv, timeout)
        out.seek(0)
        return subprocess.CompletedProcess(argv, p.returncode, out.read(), "".join(kept))
