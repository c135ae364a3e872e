"""Every scan of student text in the grading process is linear and bounded.

The static scans (``grader.verdicts.forbidden``, ``grader.verdicts.integrity``, and
``grader.submission.parts`` under both) run in the grading process, outside every
worker limit.  A 900 KB file of 150,000 lines of ``x = 1`` (each line defines and
uses ``x``) once made them quadratic (8,000 lines: 3.5 s and 264 MiB; 150,000: killed
at 20 GB).  Here each input is graded under an address-space limit
(``RLIMIT_AS``) a fixed amount above what the process needs to start, and must get
its verdict (full marks: the file ends with a correct softmax) and no "could not
walk" note, which is what a scan that ran out of memory would leave.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

# Slow by design: files of 150,000 lines and notebooks of 200,000 cells, scanned and graded under a memory cap.
pytestmark = pytest.mark.slow

SOFTMAX = textwrap.dedent("""\
    import torch


    def softmax(x):
        e = torch.exp(x - x.amax(-1, keepdim=True))
        return e / e.sum(-1, keepdim=True)
    """)
HEADROOM = 1 << 30  # above the process's size once torch and the grader are imported


def _long_file(path, lines=150_000):
    path.write_text("x = 1\n" * lines + SOFTMAX)
    return path


def _notebook(path, cells=200_000, marked=True):
    """200,000 tiny code cells (each its own part of exercise 1 when ``marked``), then a correct softmax."""
    source = "# exercise1\nx = 1" if marked else "x = 1"
    nb = {
        "cells": [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": f"c{i}",
                "metadata": {},
                "outputs": [],
                "source": source,
            }
            for i in range(cells)
        ]
        + [
            {
                "cell_type": "code",
                "execution_count": None,
                "id": "softmax",
                "metadata": {"tags": ["exercise1"]},
                "outputs": [],
                "source": SOFTMAX,
            }
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path.write_text(json.dumps(nb))
    return path


CAPPED = """\
import resource, sys
import grader.cli, torch  # what any grading process holds before it reads a submission
with open("/proc/self/status") as f:
    size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmPeak:"))
limit = size + int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
sys.argv[1:] = sys.argv[2:]
"""


def _capped(*code_and_args, timeout=900):
    """Run python code (``CAPPED`` first) with its address space limited to its start-up size plus HEADROOM."""
    code, *args = code_and_args
    return subprocess.run(
        [sys.executable, "-c", CAPPED + code, str(HEADROOM), *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_scans_of_a_150000_line_file_finish_under_a_memory_cap(tmp_path):
    p = _long_file(tmp_path / "exercise1_softmax.py")
    r = _capped(
        textwrap.dedent("""\
        import json
        from pathlib import Path
        from grader.exercises import lookup
        from grader.verdicts import forbidden, integrity
        path, ex = Path(sys.argv[1]), lookup("exercise1")
        print(json.dumps([forbidden.scan_all(path, ex), integrity.scan(path, ex)]))
        """),
        p,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout) == [[[], []], [[], []]]  # nothing found, and nothing it could not walk


def test_grading_a_150000_line_file_under_a_memory_cap_gives_a_verdict(tmp_path):
    p = _long_file(tmp_path / "answers.py")
    r = _capped("raise SystemExit(grader.cli.main())", "exercise1", "--submission", p, "--format", "json")
    assert r.returncode == 0, r.stderr[-2000:]
    ex = json.loads(r.stdout)["exercises"][0]
    assert ex["score"] == 10 and "review" not in ex, (ex["score"], ex.get("review"))


@pytest.mark.parametrize("marked", [True, False], ids=["cells-of-exercise-1", "unmarked-cells"])
def test_grading_a_200000_cell_notebook_under_a_memory_cap_gives_a_verdict(tmp_path, marked):
    p = _notebook(tmp_path / "homework.ipynb", marked=marked)
    r = _capped("raise SystemExit(grader.cli.main())", "exercise1", "--submission", p, "--format", "json")
    assert r.returncode == 0, r.stderr[-2000:]
    ex = json.loads(r.stdout)["exercises"][0]
    assert ex["score"] == 10 and "review" not in ex, (ex["score"], ex.get("review"))
