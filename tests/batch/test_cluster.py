"""`grade batch --scheduler`: the same class graded on a Dask cluster gives the same results.

Dask comes with the dev extra (`pip install -e .[dev]`); these tests never
skip for want of it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time

import pytest

from grader.batch.output import state_file
from tests.batch.test_batch import EX1, SOLUTIONS, bad_entries, batch, normal_class, read_csv
from tests.conftest import ROOT

SECRET = "cluster-course-secret"
COMMON = ["--exercises", "1", "2", "--seed-secret", SECRET, "--timeout-scale", "0.3"]


@pytest.mark.slow
def test_a_class_on_a_local_cluster_matches_the_local_batch(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    normal = normal_class(subs)
    (subs / "dee").mkdir()  # exercise 2 missing: its message is the batch's, not a terminal's advice
    (subs / "dee" / EX1).write_text((SOLUTIONS / EX1).read_text())
    normal.append("dee")
    bad = bad_entries(subs)
    local = batch(subs, "--out", tmp_path / "local", *COMMON, "--jobs", "2")
    assert local.returncode == 1, local.stderr
    r = batch(subs, "--out", tmp_path / "dask", *COMMON, "--scheduler", "local:2", timeout=300)
    assert r.returncode == 1, r.stderr
    assert "Dask cluster local:2: 2 workers, 2 threads" in r.stderr
    assert "[4/4]" in r.stderr  # progress, one line per student (not a terminal)
    # the gradebook and every report, byte for byte
    for name in ("grades.csv", "results.csv"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name
    for student in normal:
        for ext in ("json", "html"):
            a = (tmp_path / "local" / "reports" / f"{student}.{ext}").read_bytes()
            b = (tmp_path / "dask" / "reports" / f"{student}.{ext}").read_bytes()
            assert a == b, (student, ext)
    assert sorted(p.name for p in (tmp_path / "dask" / "reports").iterdir()) == sorted(
        f"{s}.{e}" for s in normal for e in ("json", "html")
    )
    # the summary: the same class picture; only timings (and a worker's uid) differ
    a, b = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("local", "dask"))
    for s in (a, b):
        for k in ("elapsed", "jobs", "isolation"):
            s["meta"].pop(k)
    assert a == b
    rows = {row[0]: row for row in read_csv(tmp_path / "dask", "results.csv")[2:]}
    assert rows["ada"][-1] == "graded" and rows["ada"][3] == "20.00"
    dee = json.loads((tmp_path / "dask" / "reports" / "dee.json").read_text())
    assert "--submission" not in json.dumps(dee) and "not in the submission" in json.dumps(dee)
    for student in bad:
        assert rows[student][-1].startswith("error:"), student
    # each graded student's state says which worker graded it; the batch wrote every file
    state = json.loads(state_file(tmp_path / "dask", "ada").read_text())
    assert state["worker"].startswith("tcp://") and state["status"] == "graded"
    # resumable: a rerun grades nobody, a changed student is regraded
    r = batch(subs, "--out", tmp_path / "dask", *COMMON, "--scheduler", "local:2", timeout=300)
    assert "0 to grade, 4 unchanged" in r.stderr, r.stderr
    (subs / "ada" / EX1).write_text((SOLUTIONS / EX1).read_text() + "\n# changed\n")
    r = batch(subs, "--out", tmp_path / "dask", *COMMON, "--scheduler", "local:1", timeout=300)
    assert "1 to grade, 3 unchanged" in r.stderr, r.stderr
    for name in ("grades.csv", "results.csv"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name


KILL_ANCESTOR = """\
import os, signal

def _ancestors():
    pid = os.getppid()
    while pid > 1:
        yield pid
        with open(f"/proc/{{pid}}/stat") as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])

for pid in _ancestors():
    with open(f"/proc/{{pid}}/cmdline", "rb") as f:
        if {needle!r} in f.read():
            os.kill(pid, signal.SIGKILL)
            break

def softmax(x):
    return x
"""


@pytest.mark.slow
def test_a_submission_that_kills_its_grading_process_or_its_worker_gets_an_error_row(tmp_path):
    """Without isolation (so that student code can see and kill the grader's
    processes): one student kills the grading process, another the Dask
    worker process itself, every time.  Each gets an error row after bounded
    retries, the others are graded, and the batch ends."""
    subs = tmp_path / "subs"
    for name in ("ada", "eve"):
        (subs / name).mkdir(parents=True)
        (subs / name / EX1).write_text((SOLUTIONS / EX1).read_text())
    (subs / "host_killer").mkdir()
    (subs / "host_killer" / EX1).write_text(KILL_ANCESTOR.format(needle=b"grader.batch.cluster_host"))
    (subs / "worker_killer").mkdir()
    (subs / "worker_killer" / EX1).write_text(KILL_ANCESTOR.format(needle=b"spawn_main"))
    r = batch(
        subs,
        "--out",
        tmp_path / "out",
        "--exercises",
        "1",
        "--seed-secret",
        SECRET,
        "--timeout-scale",
        "0.3",
        "--no-isolation",
        "--scheduler",
        "local:2",
        timeout=400,
    )
    assert r.returncode == 1, r.stderr
    rows = {row[0]: row for row in read_csv(tmp_path / "out", "results.csv")[2:]}
    assert rows["ada"][1:] == ["10.00", "10.00", "graded"] and rows["eve"][1:] == ["10.00", "10.00", "graded"]
    assert rows["host_killer"][-1].startswith(
        "error: grading this submission stopped the grader's grading process twice"
    ), rows["host_killer"]
    assert rows["worker_killer"][-1].startswith(
        "error: grading this submission stopped a cluster worker more than once"
    ), rows["worker_killer"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert {t["student"] for t in summary["trouble"]} == {"host_killer", "worker_killer"}


@pytest.mark.slow
def test_an_external_scheduler_sends_everyone_to_the_gpu_workers(tmp_path):
    """A cluster started apart from the batch, as the README shows (`dask scheduler`,
    `dask worker`): one worker has the GPU resource, one has not; every submission
    goes to the GPU worker, so every student is graded with the same tests."""
    subs = tmp_path / "subs"
    normal_class(subs)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    sched_file = tmp_path / "scheduler.json"
    procs = [
        subprocess.Popen(
            dask + ["--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        for _ in range(600):
            if sched_file.exists() and json.loads(sched_file.read_text() or "{}").get("address"):
                break
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        worker = [
            sys.executable,
            "-m",
            "distributed.cli.dask_worker",
            address,
            "--nthreads",
            "1",
            "--no-dashboard",
            "--memory-limit",
            "0",
        ]
        for extra in (["--resources", "GPU=1", "--name", "gpu-worker"], ["--name", "cpu-worker"]):
            procs.append(
                subprocess.Popen(
                    worker + extra, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
            gpu = [a for a, w in client.scheduler_info()["workers"].items() if w.get("resources", {}).get("GPU")]
        r = batch(subs, "--out", tmp_path / "out", *COMMON, "--scheduler", address, timeout=300)
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
    assert r.returncode == 0, r.stderr
    assert "2 workers, 2 threads; 1 with a GPU (resource GPU)" in r.stderr
    for student in ("ada", "ben", "cy"):
        state = json.loads(state_file(tmp_path / "out", student).read_text())
        assert state["worker"] == gpu[0], student


def test_cpu_workers_hide_the_gpu_from_their_grading_processes():
    from grader.batch.cluster import host_env

    assert host_env(False, {"CUDA_VISIBLE_DEVICES": "0"})["CUDA_VISIBLE_DEVICES"] == ""
    assert host_env(True, {"CUDA_VISIBLE_DEVICES": "0"})["CUDA_VISIBLE_DEVICES"] == "0"
    assert "CUDA_VISIBLE_DEVICES" not in host_env(True, {})


def test_a_worker_grades_the_batch_s_course_and_one_without_its_folder_stops_the_batch(tmp_path):
    """The grading processes get the batch's course, whatever the worker's own GRADER_COURSE; a worker
    with no course folder at the batch's path starts none, and the batch stops, naming the worker."""
    from grader.batch.cluster import ClusterPool, GradingPlugin, host_env

    assert host_env(False, {"GRADER_COURSE": "/elsewhere"}, course="/srv/dl2")["GRADER_COURSE"] == "/srv/dl2"
    assert "GRADER_COURSE" not in host_env(False, {"GRADER_COURSE": "/elsewhere"})  # the built-in course

    class Worker:
        state = type("State", (), {"nthreads": 2, "total_resources": {}})()

    plugin = GradingPlugin({"course": str(tmp_path / "not-here")})
    plugin.setup(Worker())
    try:
        assert plugin.hosts == []  # no grading process started for nothing
        row = plugin.grade({"files": {}}, 60.0)
    finally:
        plugin.teardown(Worker())
    assert row == {"_no_course": f"has no course folder {tmp_path / 'not-here'} (no course.toml there)"}

    class Done:
        def result(self):
            return dict(row, worker="tcp://10.0.0.7:4242")

        def release(self):
            pass

    pool = ClusterPool("local:1", None, [], None, 60.0, "fp")
    pool._collect(Done(), {"student": "ada"}, on_done=lambda r: pytest.fail("no row for a batch that stopped"))
    assert pool.fatal == (
        f"the Dask worker tcp://10.0.0.7:4242 has no course folder {tmp_path / 'not-here'} (no course.toml there): "
        "a batch with --course needs the course folder at the same path on every worker machine "
        "(a shared file system, or a copy there)"
    )


@pytest.mark.slow
def test_a_course_of_one_s_own_on_a_local_cluster(tmp_path):
    """--course with --scheduler: the workers grade the example course's LayerNorm, as a local batch does."""
    course = ROOT / "examples" / "course" / "exercise1_layer_norm"
    subs = tmp_path / "subs"
    for student, source in (("ada", "solution.py"), ("ben", "mistakes/bug_unbiased_variance.py")):
        (subs / student).mkdir(parents=True)
        (subs / student / "exercise1_layer_norm.py").write_text((course / source).read_text())
    common = ["--course", ROOT / "examples" / "course", "--exercises", "1", "--seed-secret", SECRET]
    local = batch(subs, "--out", tmp_path / "local", *common, "--jobs", "1", timeout=300)
    r = batch(subs, "--out", tmp_path / "dask", *common, "--scheduler", "local:1", timeout=300)
    assert local.returncode == r.returncode == 0 and "Dask cluster local:1" in r.stderr, r.stderr
    rows = {row[0]: row for row in read_csv(tmp_path / "dask", "results.csv")[2:]}
    assert rows["ada"][1] == "10.00" and rows["ada"][-1] == "graded" and float(rows["ben"][1]) < 10, rows
    hint = (course / "mistakes" / "bug_unbiased_variance.py").read_text().splitlines()[0].removeprefix("# hint: ")
    assert re.search(hint, (tmp_path / "dask" / "reports" / "ben.json").read_text())
    for name in ("results.csv", "reports/ada.json", "reports/ben.json"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name


@pytest.mark.parametrize(
    "scheduler,needle",
    [
        # slow: Dask waits out its connect timeout (20 s) before giving up on the address
        pytest.param(
            "tcp://127.0.0.1:1", "cannot reach the Dask scheduler at tcp://127.0.0.1:1", marks=pytest.mark.slow
        ),
        ("http://x", "neither a scheduler address"),
        ("local:0", "local:N needs N >= 1"),
    ],
)
def test_a_bad_scheduler_gets_one_clear_line(tmp_path, scheduler, needle):
    subs = tmp_path / "subs"
    normal_class(subs)
    r = batch(subs, "--out", tmp_path / "out", *COMMON, "--scheduler", scheduler, timeout=120)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr


def test_dask_is_imported_only_for_a_cluster():
    code = textwrap.dedent("""
        import sys
        from grader import cli
        from grader.batch.options import parser
        parser().parse_args(["s", "--out", "o"])
        assert not any(m == "distributed" or m.startswith(("distributed.", "dask")) for m in sys.modules)
        print("ok")
    """)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.stdout.strip() == "ok", r.stderr
