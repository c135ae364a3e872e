"""`grade exerciseN --watch`: from a save to the new verdict on the screen.

Goal: within 0.5 s for exercises 1-5.  For each exercise, runs
`grade exerciseN --watch` on a pseudo-terminal (with its warm server, in a
private socket folder; ``--no-server`` to watch without one), waits for the
first report, then saves the model answer and the stub in turn and times each
save to the moment the report's "Total:" line has been drawn.  A benchmark,
not a test: it prints numbers.

    python bench/watch_latency.py [--saves 4] [--exercises 1 2 3 4 5] [--no-server]
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import shutil
import signal
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from serverenv import private_server  # noqa: E402

from grader.exercises import lookup  # noqa: E402


def read_until(fd, buf: bytearray, pattern: bytes, start: int, timeout: float = 300) -> float:
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while not rx.search(buf, start):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {pattern!r}:\n{buf[-2000:].decode(errors='replace')}")
        if select.select([fd], [], [], 0.5)[0]:
            buf += os.read(fd, 65536)
    return time.perf_counter()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--saves", type=int, default=4)
    p.add_argument("--exercises", nargs="+", default=["1", "2", "3", "4", "5"])
    p.add_argument("--no-server", action="store_true")
    a = p.parse_args()
    with private_server(TERM="xterm") as (env, d):
        for name in a.exercises:
            ex = lookup(name)
            work = Path(d) / f"work-{ex.name}"
            work.mkdir()
            target = work / ex.file
            versions = [ROOT / "solutions" / ex.file, ROOT / "exercises" / ex.file]
            shutil.copyfile(versions[1], target)
            args = [sys.executable, "-m", "grader.cli", ex.name, "--submission", str(work), "--watch"]
            if a.no_server:
                args.append("--no-server")
            pid, fd = pty.fork()
            if pid == 0:
                os.chdir(ROOT)
                os.execve(sys.executable, args, env)
            buf = bytearray()
            try:
                read_until(fd, buf, rb"Total:[^\n]*\n[\s\S]*Watching", 0)
                lat = []
                for i in range(a.saves):
                    time.sleep(0.3)
                    mark = len(buf)
                    shutil.copyfile(versions[i % 2], target)
                    saved = time.perf_counter()
                    lat.append(read_until(fd, buf, rb"Total:[^\n]*\n", mark) - saved)
                    read_until(fd, buf, rb"Watching", mark)
                print(
                    f"{ex.name}: save -> verdict median {statistics.median(lat):.2f} s (goal: at most 0.5)  "
                    f"(saves: {', '.join(f'{x:.2f}' for x in lat)})"
                )
            finally:
                os.kill(pid, signal.SIGINT)
                os.waitpid(pid, 0)
                os.close(fd)


if __name__ == "__main__":
    main()
