"""The floor: what the hidden suites themselves cost for one submission, beside what the batch pays.

Grades the model answers (solutions/, all nine exercises) through the grader's own harness
(``grader.harness.run.serve``: one pytest session, the suites, the checks, the reference) with
every request answered in this process: ``grader.untrusted.server.Server``'s handlers are
called directly on the wire's encoding of the request and the reply, so no worker is forked,
nothing is isolated, no socket is crossed and no forbidden-call watch runs.  No batch can go
below that: it is the suites' own compute (and the model answers').  Then ``grade batch``
grades a class of N/2 and then of N copies of the model answers (bench/batch_throughput.py): the
difference is what one submission more costs the batch, start-up left out.  The costs per
submission are printed side by side, with their ratio; CPU time is the steadier number on a busy
machine.  A benchmark, not a test: it prints numbers and asserts nothing.

Only the model answers ever run in this process: the grader's answers are in its memory,
which is why the grader never does this with a student's code.

    python bench/floor.py                 # 10 in-process gradings, then batches of 20 and 40
    python bench/floor.py --repeat 20 --n 100 --jobs 2
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from grader.exercises import EXERCISES  # noqa: E402


class InProcessWorker:
    """Stands in for ``grader.transport.processes.Worker``: each request is encoded as for the
    wire, answered by the worker's own handler here, and its reply encoded and decoded back."""

    isolation: dict = {}

    def __init__(self, zygote, limits, workdir: Path, spend=None):
        from grader.transport.limits import Spend
        from grader.untrusted.server import Server

        self.limits, self.workdir = limits, workdir
        self.spend = spend if spend is not None else Spend()
        self.sizes: list = []
        self.metas = 0
        self.alive = True
        self.elapsed = self.cpu = 0.0
        workdir.mkdir(parents=True, exist_ok=True)
        self.server = Server(None)

    def request(self, op: str, timeout: float, **fields) -> dict:
        from grader.wire import codec

        if op == "load":  # the watch and the import rule would patch this process's torch and builtins
            fields.update(forbidden=None, allowed_imports=None)
        start = time.perf_counter()
        body, blobs = codec.pack(fields)
        body["op"] = op
        reply = getattr(self.server, "op_" + op)(body, b"".join(blobs))
        body, blobs = codec.pack(reply, self.server.keep)
        decoders: list = []
        reply = codec.unpack(body, b"".join(blobs), decoders=decoders)
        self.metas = decoders[0].metas
        self.elapsed += time.perf_counter() - start
        return reply

    def output(self, limit: int) -> str:
        return ""

    def close(self) -> None:
        self.alive = False


def floor(exercises, repeat: int) -> tuple:
    """(wall, CPU) seconds per grading of the model answers, in this process, after the first
    (which collects the suites and warms up); and the report's score out of its maximum."""
    from grader.harness.run import Job, serve
    from grader.transport import session

    session.Worker = InProcessWorker  # this process only: the bench's own copy of the harness
    jobs = iter([Job(ROOT / "solutions", 0, None) for _ in range(repeat + 1)])
    marks: list = []
    scores: list = []

    def on_report(job, report) -> bool:
        marks.append((time.perf_counter(), time.process_time()))
        scores.append((report["score"], report["max_score"]))
        return False

    serve(exercises, lambda: next(jobs, None), on_report)
    walls = [b[0] - a[0] for a, b in zip(marks, marks[1:])]
    cpus = [b[1] - a[1] for a, b in zip(marks, marks[1:])]
    return statistics.median(walls), statistics.median(cpus), scores[-1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=10, help="in-process gradings timed (after one to warm up)")
    p.add_argument(
        "--n",
        type=int,
        default=40,
        help="submissions in the larger batch (copies of the model answers); the other has half",
    )
    p.add_argument("--jobs", type=int, default=None, help="the batch's --jobs (default: the usable cores)")
    a = p.parse_args()

    from batch_throughput import make_class, run_batch

    jobs = a.jobs or len(os.sched_getaffinity(0))
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at the start"
    )
    wall, cpu, (score, top) = floor(EXERCISES, a.repeat)
    print(
        f"floor, in one process without isolation: {wall:.3f} s wall, {cpu:.3f} s CPU per submission "
        f"(median of {a.repeat}; the model answers scored {score:g} / {top:g})"
    )

    half = max(1, a.n // 2)
    runs = {}
    base = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    try:
        for n in (half, a.n):  # the same class, twice the size: the difference is what a submission adds
            subs = base / f"submissions-{n}"
            subs.mkdir()
            make_class(subs, n, EXERCISES, mix=(1, 0, 0))  # every student hands in the model answers
            runs[n] = run_batch(
                f"grade batch, {n} submissions", subs, base / f"results-{n}", EXERCISES, ["--jobs", str(jobs)], n, jobs
            )
    finally:
        shutil.rmtree(base, ignore_errors=True)
    (w1, _, c1), (w2, _, c2) = runs[half], runs[a.n]
    m_wall, m_cpu = (w2 - w1) / (a.n - half), (c2 - c1) / (a.n - half)
    print(
        f"batch, each submission more (from {half} to {a.n}): {m_wall:.3f} s wall with {jobs} jobs, {m_cpu:.3f} s CPU "
        f"(all its processes); with its start-up, {w2 / a.n:.3f} s wall and {c2 / a.n:.3f} s CPU per submission"
    )
    print(
        f"batch / floor: CPU {m_cpu / cpu:.2f}x (each submission more), {c2 / a.n / cpu:.2f}x (with start-up); "
        f"wall {m_wall * jobs / wall:.2f}x (one job's wall per submission over the floor's)"
    )


if __name__ == "__main__":
    main()
