"""How long a student waits: `grade exercise3` versus `python -c "import torch"`.

The goal is a ratio of at most 1.5.  Both commands are run the same number of
times, alternating, on the same machine; the medians are compared.  This is
a benchmark, not a test: it prints numbers and asserts nothing.

    python bench/startup_ratio.py [--runs 7] [--exercise exercise3] [--submission solutions]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, check=False)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--exercise", default="exercise3")
    p.add_argument("--submission", default="solutions")
    a = p.parse_args()
    baseline_cmd = [sys.executable, "-c", "import torch"]
    grade_cmd = [sys.executable, "-m", "grader.cli", a.exercise, "--submission", a.submission]
    timed(baseline_cmd), timed(grade_cmd)  # warm the page cache
    base, grade = [], []
    for _ in range(a.runs):
        base.append(timed(baseline_cmd))
        grade.append(timed(grade_cmd))
    b, g = statistics.median(base), statistics.median(grade)
    print(f"python -c 'import torch'        median {b:.2f} s  (runs: {', '.join(f'{x:.2f}' for x in base)})")
    print(f"grade {a.exercise} --submission {a.submission}  median {g:.2f} s  (runs: {', '.join(f'{x:.2f}' for x in grade)})")
    print(f"ratio {g / b:.2f}  (goal: at most 1.5)")


if __name__ == "__main__":
    main()
