"""How long a student waits for a cold `grade exercise3`, against `python -c "import torch"`.

Goals: at most 1.3 times `import torch` on an idle machine, at most
1.5 times with one core busy.  Cold means no warm server: `grade --no-server`,
and `grade` starting its warm server (the one before it stopped).  Every
command is run the same number of times, alternating, in the same run; the
medians are compared, and wall and CPU time (the process and its children)
are shown.  ``--busy`` repeats the whole measurement with one core kept busy
by a spinning process.  A benchmark, not a test: it prints numbers and asserts
nothing.

    python bench/startup_ratio.py [--runs 7] [--exercise exercise3] [--submission solutions] [--busy] [--other DIR]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from serverenv import private_server

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd, env, cwd=ROOT) -> tuple:
    """(wall seconds, CPU seconds of the command and every child it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(runs: int, exercise: str, submission: str, env: dict, other=None) -> dict:
    grade = [sys.executable, "-m", "grader.cli", exercise, "--submission", submission]
    stop = [sys.executable, "-m", "grader.cli", "server", "stop"]
    cmds = {
        "import torch": [sys.executable, "-c", "import torch"],
        f"grade {exercise} --no-server": grade + ["--no-server"],
        f"grade {exercise} (starting its server)": grade,
    }
    where = {}
    if other is not None:  # another checkout's grade (an older version, say), in the same run
        name = f"grade {exercise} in {other}"
        cmds[name] = [sys.executable, "-m", "grader.cli", exercise, "--submission", submission]
        where[name] = other
    results: dict = {k: [] for k in cmds}
    run_env = {
        name: dict(env, PYTHONPATH=str(where[name]), GRADER_NO_SERVER="1") if name in where else env for name in cmds
    }
    for name, cmd in cmds.items():  # warm the page cache
        timed(cmd, run_env[name], where.get(name, ROOT))
    subprocess.run(stop, env=env, capture_output=True, cwd=ROOT)
    for _ in range(runs):
        for name, cmd in cmds.items():
            results[name].append(timed(cmd, run_env[name], where.get(name, ROOT)))
            if "server" in name:
                # the server's own CPU is not the client's child's: count it from its exit
                subprocess.run(stop, env=env, capture_output=True, cwd=ROOT)
    return results


def report(results: dict, goal: float, title: str) -> None:
    print(f"\n{title}")
    base = statistics.median(w for w, _ in results["import torch"])
    for name, rows in results.items():
        wall = statistics.median(w for w, _ in rows)
        cpu = statistics.median(c for _, c in rows)
        ratio = "" if name == "import torch" else f"  ratio {wall / base:.2f} (goal: at most {goal})"
        cpu_text = "  (daemon)" if "starting its server" in name else f"{cpu:5.2f} s"  # nobody's child
        print(
            f"  {name:<42} wall {wall:5.2f} s  cpu {cpu_text}{ratio}  (runs: {', '.join(f'{w:.2f}' for w, _ in rows)})"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--exercise", default="exercise3")
    p.add_argument("--submission", default="solutions")
    p.add_argument("--busy", action="store_true", help="also measure with one core kept busy")
    p.add_argument(
        "--other",
        type=Path,
        default=None,
        metavar="DIR",
        help="also time the grade of another checkout (e.g. an older version), in the same run",
    )
    a = p.parse_args()
    with private_server() as (env, _):
        report(measure(a.runs, a.exercise, a.submission, env, a.other), 1.3, "as the machine is:")
        if a.busy:
            spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            try:
                report(measure(a.runs, a.exercise, a.submission, env, a.other), 1.5, "one core kept busy:")
            finally:
                spin.kill()
                spin.wait()


if __name__ == "__main__":
    main()
