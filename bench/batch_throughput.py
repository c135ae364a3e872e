"""How fast `grade batch` grades a class, and how much warm workers save.

Generates N submissions (a mix of correct, buggy and broken ones, as folders
and zips), grades them with `grade batch` and prints submissions per second.
It also times a cold `grade all` on one submission (a fresh interpreter that
imports torch, as a student runs it), so the speed-up of warm, forked workers
is visible, and with --profile splits one warm grading run into where the
time goes.  A benchmark, not a test: it prints numbers and asserts nothing.

    python bench/batch_throughput.py                  # 500 submissions, all exercises
    python bench/batch_throughput.py --n 40 --jobs 2 --exercises 1 2 3 --profile
    python bench/batch_throughput.py --scheduler local:2   # the local batch, then a LocalCluster, same class
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.exercises import EXERCISES, lookup  # noqa: E402

# Common mistakes, as edits of the model answers (each still runs, but is wrong).
BUGS = {
    "exercise1": ("z = x - x.max(dim=-1, keepdim=True).values", "z = x"),  # overflows
    "exercise2": ("z = x - x.max(dim=-1, keepdim=True).values", "z = x"),
    "exercise3": (".mean()", ".sum()"),  # sum, not mean
    "exercise4": ("std = math.sqrt(init_factor / in_dim)", "std = 1.0"),  # initialisation
    "exercise5": ("X.clamp(min=0)", "X.clamp_(min=0)"),  # in place
    "exercise6": ("nn.ModuleList(layers)", "list(layers)"),  # hidden parameters
    "exercise7": ("p -= self.lr * p.grad", "p.data = p.data - self.lr * p.grad.sign()"),  # wrong update
    "exercise8": ("return grad @ Y.T, X.T @ grad", "return grad @ Y.T, grad.T @ X"),  # transposed
    "exercise9": ("opt.zero_grad()", "pass"),  # gradients pile up
}
BROKEN = [
    lambda src: src.replace("):", ")", 1),  # a syntax error
    lambda src: "import tensorflow\n" + src,  # an import that fails
    lambda src: None,  # the file is missing
]


def make_class(folder: Path, n: int, exercises, seed: int = 0, mix=(0.5, 0.3, 0.2), hostile: int = 0) -> dict:
    """N students in ``folder``, ``hostile`` of them (at random places, the shapes in turn)
    hostile in every exercise (bench/hostile_shapes.py); returns {kind: count}."""
    from hostile_shapes import SHAPES, hostile_source

    rng = random.Random(seed)
    counts = {"correct": 0, "buggy": 0, "broken": 0}
    solutions = {ex.name: (ROOT / "solutions" / ex.file).read_text() for ex in exercises}
    stubs = {ex.name: (ROOT / "exercises" / ex.file).read_text() for ex in exercises}
    attackers = dict(zip(sorted(random.Random(seed + 1).sample(range(n), min(hostile, n))), SHAPES * n))
    for i in range(n):
        kind = rng.choices(["correct", "buggy", "broken"], weights=mix)[0]
        shape = attackers.get(i)  # drawn as the others are, so that the rest of the class stays the same
        counts["hostile" if shape else kind] = counts.get("hostile" if shape else kind, 0) + 1
        files = {}
        for ex in exercises:
            src = solutions[ex.name]
            if kind == "buggy" and rng.random() < 0.5 and ex.name in BUGS:
                old, new = BUGS[ex.name]
                src = src.replace(old, new)
            elif kind == "broken" and rng.random() < 0.4:
                src = rng.choice(BROKEN + [lambda s, stub=stubs[ex.name]: stub])(src)
            if shape:
                src = hostile_source(solutions[ex.name], shape)
            if src is not None:
                files[ex.file] = src
        student = f"student{i:04d}"
        if i % 3 == 2:
            with zipfile.ZipFile(folder / f"{student}.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
                for name, text in files.items():
                    z.writestr(f"{student}/{name}", text)
        else:
            (folder / student).mkdir()
            for name, text in files.items():
                (folder / student / name).write_text(text)
            if not files:
                (folder / student / "README.txt").write_text("nothing yet")
    return counts


def cold_grade_all(exercises, runs: int) -> list:
    names = [ex.name for ex in exercises]
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "grader.cli",
                    *names,
                    "--no-server",
                    "--submission",
                    str(ROOT / "solutions"),
                    "--output",
                    f"{tmp}/r.json",
                ],
                cwd=ROOT,
                capture_output=True,
            )
            times.append(time.perf_counter() - start)
    return times


def profile_one(exercises) -> None:
    """Where one warm grading run spends its time (in-process, cProfile)."""
    import cProfile
    import pstats

    from grader.batch.slots import prewarm
    from grader.harness.run import grade
    from grader.transport.processes import Zygote

    prewarm(exercises)
    z = Zygote()
    z.wait_ready()
    grade(exercises, ROOT / "solutions", zygote=z)  # warm-up
    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    report = grade(exercises, ROOT / "solutions", zygote=z)
    prof.disable()
    total = time.perf_counter() - start
    z.close()
    stats = pstats.Stats(prof)

    def cum(file_part: str, func: str) -> float:
        return sum(v[3] for k, v in stats.stats.items() if file_part in k[0] and k[2] == func)

    from grader.transport.processes import Worker

    line = Worker.__init__.__code__.co_firstlineno
    spawn = sum(v[3] for k, v in stats.stats.items() if k[0].endswith("grader/transport/processes.py") and k[1] == line)
    waiting = cum("grader/wire/codec.py", "recv")
    sending = cum("grader/wire/codec.py", "send")
    calls = cum("_pytest/python.py", "pytest_pyfunc_call")
    n_tests = sum(len(ex.tests) for ex in report.exercises)
    print(f"\none warm `grade` of {len(exercises)} exercises ({n_tests} test items): {total:.2f} s (under cProfile)")
    print(f"  test bodies (suites, checks, reference, worker calls)  {calls:6.2f} s")
    print(f"    waiting for worker replies (student code + IPC)    {waiting:6.2f} s")
    print(f"    sending requests                                   {sending:6.2f} s")
    print(f"    starting workers (fork + isolation), per exercise  {spawn:6.2f} s")
    print(f"  pytest around the tests (collection, fixtures, hooks) {total - calls:6.2f} s")


def run_batch(label: str, subs: Path, out: Path, exercises, extra: list, n: int, jobs: int) -> tuple:
    """One `grade batch` of the class; prints its numbers, returns (wall time, time to the first result,
    CPU time of all its processes)."""
    cmd = [
        sys.executable,
        "-m",
        "grader.cli",
        "batch",
        str(subs),
        "--out",
        str(out),
        *extra,
        "--seed-secret",
        "bench",
        "--exercises",
        *[ex.name for ex in exercises],
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, text=True, env=dict(os.environ, CI="true"))
    first = None
    for line in proc.stderr:
        if first is None and "[1/" in line:
            first = time.perf_counter() - start
    # the CPU time of every process the batch started and waited for (grading processes,
    # zygotes and their workers, Dask's workers): less sensitive than wall time to a busy machine
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    cpu = usage.ru_utime + usage.ru_stime
    states = [json.loads(f.read_text()) for f in (out / ".batch" / "state").glob("*.json")]
    graded = [s for s in states if s["status"] == "graded"]
    per = [s["elapsed"] for s in states if "elapsed" in s]
    print(
        f"{label}: {wall:.1f} s wall for {n} submissions = {n / wall:.2f} submissions/s "
        f"(exit {proc.returncode}; {len(graded)} graded, {len(states) - len(graded)} errors)"
    )
    print(f"  CPU time, all its processes: {cpu:.1f} s ({cpu / n:.2f} s per submission)")
    if first is not None:
        steady = (wall - first) / max(1, n - 1)
        print(f"  start-up until the first result: {first:.1f} s; then {1 / steady:.2f} submissions/s")
    if per:
        print(
            f"  one submission in a grading process: mean {statistics.mean(per):.2f} s, "
            f"median {statistics.median(per):.2f} s, max {max(per):.2f} s (×{jobs} in parallel)"
        )
    if n and wall:
        est = 500 / (n / wall) if n != 500 else wall
        print(f"  500 submissions at this rate: {est / 60:.1f} min (goal: under 5 min)")
    return wall, first if first is not None else wall, cpu


def hostile_run(base: Path, exercises, a, jobs: int, honest: tuple) -> None:
    """The same class with ``a.hostile`` of its students hostile: its wall and CPU time beside the
    honest class's (same run, same machine), what each hostile submission was charged, and
    whether every other student's report is byte for byte the same."""
    subs, out = base / "submissions-hostile", base / "results-hostile"
    shutil.rmtree(subs, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    subs.mkdir()
    counts = make_class(subs, a.n, exercises, a.seed, hostile=a.hostile)
    label = f"grade batch, {counts.get('hostile', 0)} hostile"
    wall, _, cpu = run_batch(label, subs, out, exercises, ["--jobs", str(jobs)], a.n, jobs)
    print(
        f"  with the hostile students: {wall / honest[0]:.2f}× the wall time, {cpu / honest[2]:.2f}× the CPU time "
        f"of the honest class ({wall - honest[0]:+.1f} s, {cpu - honest[2]:+.1f} s CPU)"
    )
    states = {s["student"]: s for s in (json.loads(f.read_text()) for f in (out / ".batch" / "state").glob("*.json"))}
    plain = {
        s["student"]: s
        for s in (json.loads(f.read_text()) for f in (base / "results" / ".batch" / "state").glob("*.json"))
    }
    attackers = sorted(s for s in states if states[s]["key"] != plain.get(s, {}).get("key"))
    for s in attackers:
        row = states[s]
        print(
            f"  {s}: {row.get('score', 0):.2f} points in {row.get('elapsed', 0):.1f} s; charged "
            f"{json.dumps(row.get('cost'))}"
        )
    reports = base / "results" / "reports"
    differ = [
        p.name
        for p in sorted(reports.iterdir())
        if p.name.split(".")[0] not in attackers and p.read_bytes() != (out / "reports" / p.name).read_bytes()
    ]
    print(
        f"  the other {len(states) - len(attackers)} students' reports: "
        f"{'byte for byte the same' if not differ else 'DIFFER: ' + ' '.join(differ[:10])}"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--jobs", type=int, default=None)
    p.add_argument("--exercises", nargs="+", default=["all"])
    p.add_argument("--cold-runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--hostile",
        metavar="K",
        type=int,
        default=0,
        help="also grade the class with K of its students hostile in every exercise (replies slowed to "
        "just under the call limit, CPU hogs, replies amplified to the size limit, in turn; "
        "bench/hostile_shapes.py), and print what they cost",
    )
    p.add_argument("--keep", metavar="DIR", type=Path, default=None, help="keep submissions and results here")
    p.add_argument("--profile", action="store_true", help="also split one warm grading run by where time goes")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="also grade the same class on a Dask cluster (local[:N] or tcp://HOST:8786) after the "
        "local batch, and print the overhead per submission",
    )
    a = p.parse_args()

    from grader.harness.run import SUITES_DIR

    wanted = list(EXERCISES) if "all" in a.exercises else [lookup(e) for e in a.exercises]
    exercises = [ex for ex in wanted if (SUITES_DIR / ex.suite).is_file()]
    if len(exercises) < len(wanted):
        print(
            "note: no hidden suite yet for "
            + ", ".join(ex.name for ex in wanted if ex not in exercises)
            + "; benchmarking the others"
        )
    jobs = a.jobs or len(os.sched_getaffinity(0))
    base = a.keep or Path(tempfile.mkdtemp(prefix="bench-batch-"))
    subs, out = base / "submissions", base / "results"
    shutil.rmtree(subs, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    subs.mkdir(parents=True)
    counts = make_class(subs, a.n, exercises, a.seed)
    print(
        f"{a.n} submissions ({counts['correct']} correct, {counts['buggy']} buggy, {counts['broken']} broken; "
        f"{len(exercises)} exercises each: {' '.join(ex.name for ex in exercises)}), {jobs} jobs, "
        f"{os.cpu_count()} cores"
    )

    runs = [("grade batch", out, ["--jobs", str(jobs)])]
    if a.scheduler:
        runs.append((f"grade batch --scheduler {a.scheduler}", base / "results-cluster", ["--scheduler", a.scheduler]))
    walls = {}
    for label, where, extra in runs:
        shutil.rmtree(where, ignore_errors=True)
        walls[label] = run_batch(label, subs, where, exercises, extra, a.n, jobs)
    if a.scheduler:
        (l_wall, l_first, l_cpu), (c_wall, c_first, c_cpu) = walls.values()
        steady = ((c_wall - c_first) - (l_wall - l_first)) / max(1, a.n - 1)
        same = all(
            (out / f).read_bytes() == (base / "results-cluster" / f).read_bytes()
            for f in ["grades.csv"] + [str(p.relative_to(out)) for p in sorted((out / "reports").iterdir())]
        )
        print(
            f"cluster overhead: {c_wall - l_wall:+.1f} s in all, {(c_wall - l_wall) / a.n * 1000:+.0f} ms per "
            f"submission ({c_wall / l_wall:.2f}× the local batch's wall time); grades.csv and every report "
            f"{'byte for byte the same' if same else 'DIFFER'}"
        )
        print(
            f"  of which start-up (until the first result): {c_first - l_first:+.1f} s; after it "
            f"{steady * 1000:+.0f} ms per submission; CPU time: {(c_cpu - l_cpu) / a.n * 1000:+.0f} ms per "
            f"submission"
        )
    wall = walls["grade batch"][0]
    if a.hostile:
        hostile_run(base, exercises, a, jobs, walls["grade batch"])

    if a.cold_runs > 0:
        cold = cold_grade_all(exercises, a.cold_runs)
        c = statistics.median(cold)
        print(
            f"cold `grade {' '.join(ex.name for ex in exercises)}` on one submission (fresh interpreter): "
            f"median {c:.2f} s (runs: {', '.join(f'{t:.2f}' for t in cold)})"
        )
        print(f"  warm batch: {wall / a.n:.2f} s of wall time per submission, {c / (wall / a.n):.1f}× faster than cold")
    if a.profile:
        profile_one(exercises)
    if a.keep is None:
        shutil.rmtree(base, ignore_errors=True)
    else:
        print(f"submissions and results kept in {base}")


if __name__ == "__main__":
    main()
