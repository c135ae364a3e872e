"""How long a repeated `grade exercise3` takes once the warm server is up.

Goal: at most 0.5 s for the second call.  Starts a server of its
own (a private socket folder), makes the first call (which starts it), then
times the calls after it and, in the same run, `python -c "import torch"` and
`grade --no-server` for scale.  A benchmark, not a test: it prints numbers.

    python bench/warm_server.py [--runs 7] [--exercise exercise3] [--submission solutions]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from serverenv import private_server

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd, env) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT, env=env, check=False)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--exercise", default="exercise3")
    p.add_argument("--submission", default="solutions")
    a = p.parse_args()
    grade = [sys.executable, "-m", "grader.cli", a.exercise, "--submission", a.submission]
    with private_server() as (env, _):
        first = timed(grade, env)
        warm, base, cold = [], [], []
        for _ in range(a.runs):
            warm.append(timed(grade, env))
        for _ in range(max(1, a.runs // 3)):
            base.append(timed([sys.executable, "-c", "import torch"], env))
            cold.append(timed(grade + ["--no-server"], env))
        fmt = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
        print(f"first call (starts the server)  {first:.2f} s")
        print(
            f"later calls                     median {statistics.median(warm):.2f} s  (goal: at most 0.5)  "
            f"(runs: {fmt(warm)})"
        )
        print(f"python -c 'import torch'        median {statistics.median(base):.2f} s  (runs: {fmt(base)})")
        print(f"grade --no-server               median {statistics.median(cold):.2f} s  (runs: {fmt(cold)})")


if __name__ == "__main__":
    main()
