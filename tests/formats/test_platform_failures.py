"""A platform's results file is the grade: written, it is read (``grade`` exits 0 even when
points are lost); a grading that failed (the warm grading process killed, by a signal or the
kernel's out-of-memory killer) is never a score (``grade`` exits 3 and the file says so).
A student's own worker that runs out of memory stays that exercise's error."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from grader.untrusted.startup import SECRET_NAMES
from tests.conftest import ROOT, run_cli

# Slow by design: each test runs a cold `grade` or a platform's runner, some of them killed midway.
pytestmark = pytest.mark.slow

SOLUTIONS = ROOT / "solutions"
EX1, EX3 = "exercise1_softmax.py", "exercise3_cross_entropy.py"
BUGGY_CE = (
    "import torch\n\ndef cross_entropy(logits, targets):\n"
    "    lp = logits - logits.logsumexp(-1, keepdim=True)\n    return -lp[:, targets].mean()\n\n"
    "class CrossEntropyLoss(torch.nn.Module):\n    def forward(self, h, y):\n        return cross_entropy(h, y)\n"
)


def prairielearn_accepts(exit_code: int, timed_out: bool, results: bytes) -> tuple[bool, str]:
    """Whether PrairieLearn records ``results`` as the grade, by its own rules:

    * PrairieLearn/PrairieLearn@0014ed16a70ac169798b414b8e6b64f86de050f2
      ``apps/grader-host/src/index.ts`` (``runJob``): ``succeeded = !timedOut && ExitCode === 0``;
      only then is ``/grade/results/results.json`` read at all; a file over 1024 * 1024 bytes is a
      failure ("The grading results were larger than 1MB"); a file that is not JSON is a failure.
    * PrairieLearn/PrairieLearn@0e150627a7ba077a146d456fb7cdd5fa342804d9
      ``apps/prairielearn/src/lib/externalGraderCommon.ts`` (``makeGradingResult``): the score is
      ``results.score``, which must be a number; ``format_errors`` a string or a list.
    * PrairieLearn/PrairieLearn@88fb8556 ``docs/externalGrading.md`` ("Grading results"): ``score``
      in [0, 1] unless ``gradable`` is false; ``docs/elements/pl-external-grader-results.md``: the
      point badges show only when every test has both ``points`` and ``max_points``.
    """
    if timed_out or exit_code != 0:
        return False, f"the container exited {exit_code}: results.json is not read"
    if len(results) > 1024 * 1024:
        return False, "The grading results were larger than 1MB."
    try:
        doc = json.loads(results.decode("utf-8"))
    except ValueError:
        return False, "Could not parse the grading results."
    if doc.get("gradable") is False:
        errors = doc.get("format_errors", [])
        return isinstance(errors, (str, list)), "not gradable"
    score = doc.get("score")
    if not isinstance(score, (int, float)) or isinstance(score, bool) or math.isnan(score):
        return False, f'score "{score}" was not a number.'
    if not 0.0 <= score <= 1.0:
        return False, f"score {score} is outside [0, 1]"
    tests = doc.get("tests", [])
    if any("points" not in t or "max_points" not in t for t in tests):
        return False, "a test lacks points or max_points: every badge is dropped"
    return True, "graded"


def _grade(folder: Path, fmt: str, out: Path, *exercises):
    return run_cli(*(exercises or ("1", "3")), "--submission", folder, "--format", fmt, "--output", out, "--no-server")


@pytest.fixture(scope="module")
def buggy(tmp_path_factory):
    d = tmp_path_factory.mktemp("buggy")
    (d / EX1).write_text((SOLUTIONS / EX1).read_text())
    (d / EX3).write_text(BUGGY_CE)
    return d


def test_prairielearn_takes_a_submission_that_lost_points(buggy, tmp_path):
    out = tmp_path / "results.json"
    r = _grade(buggy, "prairielearn", out)
    assert r.returncode == 0, r.stderr  # PrairieLearn reads the file only after exit 0
    ok, why = prairielearn_accepts(r.returncode, False, out.read_bytes())
    assert ok, why
    doc = json.loads(out.read_text())
    assert doc["gradable"] is True and 0.5 < doc["score"] < 1.0


def test_prairielearn_takes_an_empty_submission_as_not_gradable(tmp_path):
    (tmp_path / "student").mkdir()
    out = tmp_path / "results.json"
    r = _grade(tmp_path / "student", "prairielearn", out)
    assert r.returncode == 0, r.stderr
    ok, why = prairielearn_accepts(r.returncode, False, out.read_bytes())
    assert ok and why == "not gradable", why


def test_gradescope_file_is_written_and_grade_exits_zero(buggy, tmp_path):
    out = tmp_path / "results.json"
    r = _grade(buggy, "gradescope", out)
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert 10 < doc["score"] < 20 and not doc["extra_data"].get("grader_failed")


def test_other_formats_still_exit_one_when_points_are_lost(buggy, tmp_path):
    r = _grade(buggy, "json", tmp_path / "r.json")
    assert r.returncode == 1, r.stderr


def test_the_acceptance_rules_refuse_what_prairielearn_refuses():
    good = json.dumps({"gradable": True, "score": 0.5, "tests": [{"points": 1, "max_points": 2}]}).encode()
    assert prairielearn_accepts(0, False, good)[0]
    assert not prairielearn_accepts(1, False, good)[0]
    assert not prairielearn_accepts(0, True, good)[0]
    assert not prairielearn_accepts(0, False, good + b" " * (1024 * 1024))[0]
    assert not prairielearn_accepts(0, False, b"{")[0]
    assert not prairielearn_accepts(0, False, json.dumps({"score": 1.5}).encode())[0]
    assert not prairielearn_accepts(0, False, json.dumps({"score": 0.5, "tests": [{"points": 1}]}).encode())[0]


# -- a killed grading process: never a score ------------------------------------------------------


def _children(pid: int) -> list:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _kill_once_grading(proc: subprocess.Popen, depth: int, deadline: float = 120.0) -> int:
    """SIGKILL the process ``depth`` generations below ``proc`` (1: its child) once that one
    has started a child of its own (the zygote: a worker, so tests are under way)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end and proc.poll() is None:
        level = [proc.pid]
        for _ in range(depth):
            level = [c for p in level for c in _children(p)]
        ready = [p for p in level if _children(p)]
        if ready:
            os.kill(ready[0], signal.SIGKILL)
            return ready[0]
        time.sleep(0.05)
    pytest.fail("the grading never started a worker")


needs_proc_children = pytest.mark.skipif(
    not Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists(),
    reason="needs /proc/PID/task/PID/children (Linux)",
)


@needs_proc_children
@pytest.mark.parametrize("fmt", ["prairielearn", "gradescope", "json"])
def test_a_killed_zygote_is_a_failure_to_grade_not_a_score(fmt, tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "all",
            "--submission",
            str(SOLUTIONS),
            "--format",
            fmt,
            "--output",
            str(out),
            "--no-server",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _kill_once_grading(proc, depth=1)  # grade's child is the zygote, which forks the workers
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 3, err
    assert "the grading failed" in err and "SIGKILL" in err and "memory limit" in err.lower()
    doc = json.loads(out.read_text())
    if fmt == "prairielearn":
        assert doc["gradable"] is False and "score" not in doc and doc["grading_failed"] is True
        assert "SIGKILL" in doc["message"] and "not a grade" in doc["message"]
        assert not prairielearn_accepts(proc.returncode, False, out.read_bytes())[0]
    elif fmt == "gradescope":
        assert doc["extra_data"]["grader_failed"] is True and doc["tests"] == []
        assert "not a grade" in doc["output"] and "SIGKILL" in doc["output"]
    else:
        assert doc["grading_failed"] is True and doc["score"] is None and "SIGKILL" in doc["reason"]
        assert "memory limit" in doc["reason"] or "no memory limit seen" in doc["reason"]


@needs_proc_children
def test_the_bundle_marks_a_killed_grading_process_as_a_failure(tmp_path):
    bundle = tmp_path / "autograder.zip"
    r = run_cli("autograder", "--out", bundle, "--exercises", "1", "3", "--timeout-scale", "1")
    assert r.returncode == 0, r.stderr
    root = tmp_path / "ag"
    (root / "submission").mkdir(parents=True)
    with zipfile.ZipFile(bundle) as z:
        z.extractall(root / "source")
    for name in (EX1, EX3):
        (root / "submission" / name).write_text((SOLUTIONS / name).read_text())
    proc = subprocess.Popen(
        ["bash", str(root / "source" / "run_autograder")],
        cwd=root,
        env=dict(os.environ, AUTOGRADER_ROOT=str(root)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # bash -> the grading process (python) -> the zygote: kill the grading process itself
    _kill_once_grading(proc, depth=1)
    proc.communicate(timeout=300)
    assert proc.returncode == 0
    doc = json.loads((root / "results" / "results.json").read_text())
    assert doc["extra_data"]["grader_failed"] is True and "not a grade" in doc["output"]
    assert "SIGKILL" in doc["output"] and "memory" in doc["output"]


def test_a_students_worker_over_its_memory_limit_stays_that_exercises_error(tmp_path):
    """The student's own worker has its own limit: going over it costs that exercise only,
    with its message; the other exercise and the exit status say the grading itself was fine."""
    (tmp_path / EX1).write_text("import torch\n\ndef softmax(x):\n    return torch.ones(1 << 36)\n")  # 256 GiB
    (tmp_path / EX3).write_text((SOLUTIONS / EX3).read_text())
    out = tmp_path / "results.json"
    r = run_cli("1", "3", "--submission", tmp_path, "--format", "prairielearn", "--output", out, "--no-server")
    assert r.returncode == 0, r.stderr
    doc = json.loads(out.read_text())
    assert doc["gradable"] is True and doc["score"] == pytest.approx(0.5)
    ex1 = [t for t in doc["tests"] if t["name"].startswith("exercise1") and t["points"] < t["max_points"]]
    assert ex1 and all("ran out of memory (the limit is" in t["output"] for t in ex1), ex1[:1]


# -- under a real memory cgroup (v1 here, where this machine lets a test make one) ---------------


def _v1_memory_cgroup():
    base = Path("/sys/fs/cgroup/memory")
    if not (base / "cgroup.procs").exists() or not os.access(base, os.W_OK):
        return None
    return base


@pytest.mark.slow
@pytest.mark.skipif(_v1_memory_cgroup() is None, reason="needs a writable cgroup v1 memory hierarchy (root)")
@pytest.mark.parametrize("secret", [False, True], ids=["forked-zygote", "interpreter-zygote"])
@pytest.mark.parametrize("limit_mib", [300])
def test_under_a_small_memory_cgroup_the_result_is_full_marks_or_a_failure_never_a_low_score(
    limit_mib, secret, tmp_path
):
    """Too little memory for the grader itself (at 300 MiB the kernel kills a process): either
    everything is right, or the grading failed and says so, with the limit it saw; never a
    partial score, and never a grading process that vanished without a word.  Both ways `grade`
    makes its zygote: forked from it (the usual way), or, where a secret-named variable forbids
    the fork, an interpreter started before `grade` imports torch."""
    env = {k: v for k, v in os.environ.items() if not SECRET_NAMES.search(k)}
    if secret:
        env["NNGRADE_TEST_TOKEN"] = "x"
    cg = _v1_memory_cgroup() / f"nngrade-test-{os.getpid()}-{limit_mib}-{int(secret)}"
    cg.mkdir()
    try:
        (cg / "memory.limit_in_bytes").write_text(str(limit_mib << 20))
        try:
            (cg / "memory.memsw.limit_in_bytes").write_text(str(limit_mib << 20))
        except OSError:
            pass  # no swap accounting: the memory limit alone
        out = tmp_path / "results.json"
        cmd = (
            f"echo $$ > {cg}/cgroup.procs && exec {sys.executable} -m grader.cli all --submission "
            f"{SOLUTIONS} --format prairielearn --output {out} --no-server"
        )
        r = subprocess.run(["sh", "-c", cmd], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        doc = json.loads(out.read_text()) if out.exists() else None
        if r.returncode == 0:
            assert doc["gradable"] is True and doc["score"] == 1.0, doc.get("message")
        else:  # the zygote goes before the grading process (its oom_score_adj), which says so
            assert r.returncode == 3, r.stderr
            assert doc["gradable"] is False and f"memory limit {limit_mib} MiB" in doc["message"], doc
            assert "SIGKILL" in doc["message"] and "not a grade" in doc["message"]
    finally:
        for _ in range(50):
            try:
                cg.rmdir()
                break
            except OSError:
                time.sleep(0.1)
