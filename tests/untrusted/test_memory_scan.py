"""No hidden-suite or reference text in any worker's memory: a zygote (and so every
worker) is made before this process has read any hidden suite or reference file, or in a
process that never reads them.

The cold `grade` forks its zygote from the grader once torch is imported; before that it
used to read the chosen suites' text (to learn whether they test the meta device), and the
freed text stayed in the heap that every worker inherited.  Whether a suite uses the meta
device is now declared in ``grader.exercises``; this test watches every file the grader
opens (Python's audit hook) until the zygote exists and finds no suite or reference file."""

from __future__ import annotations

import os
import subprocess
import sys

from grader.exercises import EXERCISES
from tests.conftest import ROOT

WATCH = r"""
import sys
from pathlib import Path
root = Path(sys.argv[1]).resolve()
secret = (str(root / "grader" / "suites"), str(root / "reference"), str(root / "solutions"))
opened = []
def hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes)):
        path = args[0].decode() if isinstance(args[0], bytes) else args[0]
        if any(str(Path(path).resolve()).startswith(s) for s in secret):
            opened.append(path)
sys.addaudithook(hook)
from grader.exercises import EXERCISES
from grader.commands.grade_here import _new_zygote
z = _new_zygote(list(EXERCISES))
z.wait_ready()
before = list(opened)
z.close()
print("OPENED", before)
"""


def test_the_cold_zygote_is_forked_before_any_suite_or_reference_is_read():
    r = subprocess.run(
        [sys.executable, "-c", WATCH, str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "GRADER_NO_SERVER": "1"},
    )
    assert r.returncode == 0, r.stderr
    assert "OPENED []" in r.stdout, r.stdout + r.stderr


def test_which_suites_use_the_meta_device_is_declared_as_they_do():
    """A suite uses it when it calls check_follows_device itself or declares Checks(devices=True)."""
    import importlib

    from grader.verdicts.declared import Checks

    for ex in EXERCISES:
        text = (ROOT / "grader" / "suites" / ex.suite).read_text()
        suite = importlib.import_module(f"grader.suites.{ex.suite.removesuffix('.py')}")
        declared = any(isinstance(v, Checks) and v.devices for v in vars(suite).values())
        assert ex.meta == ("check_follows_device" in text or declared), ex.name
