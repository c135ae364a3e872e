"""The worker's sandbox: an allowlisted disk, a minimal environment, threads,
no file system of its own (the memory it would hold), a memory cgroup where
the machine delegates one.

Each hostile file here would earn full marks if its trick worked (it falls
back to running the model answer it found, or to a correct answer only when
it saw a secret), so a score of 0 proves the trick failed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from grader.transport.limits import Limits
from grader.transport.processes import Worker
from tests.conftest import ROOT, exercise_of, run_cli

# Slow by design: each test grades in an isolated worker or starts a cold `grade` or a batch.
pytestmark = pytest.mark.slow

EX1 = "exercise1_softmax.py"
CORRECT = """
import torch
def softmax(x):
    e = torch.exp(x - x.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)
"""


def _isolation(zygote, tmp_path) -> dict:
    w = Worker(zygote, Limits(), tmp_path / "probe")
    try:
        return dict(w.isolation)
    finally:
        w.close()


def _needs_isolation(zygote, tmp_path) -> dict:
    iso = _isolation(zygote, tmp_path)
    if not iso.get("mounts") or not iso.get("pid"):
        pytest.skip(f"no isolated workers on this machine: {iso}")
    return iso


# ---------------------------------------------------------------------------
# the disk is an allowlist

FIND_THE_COURSE = """
import importlib.util, os, sys
def _find():
    mine = os.path.realpath(__file__)
    for top in ("/srv", "/tmp", "/var/tmp", "/opt", "/home", "/work", "/root", "/mnt", "/media", "/"):
        for dirpath, dirnames, filenames in os.walk(top):
            if dirpath.startswith(("/proc", "/sys", "/dev")):
                dirnames[:] = []
                continue
            if "exercise1_softmax.py" in filenames:
                path = os.path.realpath(os.path.join(dirpath, "exercise1_softmax.py"))
                if path != mine and "def softmax" in open(path).read():
                    return path
    return None
FOUND = _find()
def softmax(x):
    if FOUND is None:
        raise RuntimeError("no copy of the course found")
    spec = importlib.util.spec_from_file_location("model_answer", FOUND)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return vars(mod)["softmax"](x)
"""


@pytest.fixture
def course_copies(tmp_path_factory):
    """Copies of the course where an instructor might keep one: /srv and a
    temporary folder outside every path the grader knows."""
    copies = [Path(tempfile.mkdtemp(prefix="instructor-"))]
    if os.access("/srv", os.W_OK):
        copies.append(Path(tempfile.mkdtemp(prefix="nngrade-course-", dir="/srv")))
    for c in copies:
        shutil.copytree(ROOT / "solutions", c / "solutions")
        shutil.copy(ROOT / "pyproject.toml", c / "pyproject.toml")
    yield copies
    for c in copies:
        shutil.rmtree(c, ignore_errors=True)


def test_a_copy_of_the_course_elsewhere_is_out_of_sight(grade_folder, submission, zygote, tmp_path, course_copies):
    _needs_isolation(zygote, tmp_path)
    # unisolated, the walk finds a copy (so the test can fail):
    report = grade_folder(submission({EX1: FIND_THE_COURSE}), "exercise1", limits=Limits(isolate=False))
    assert "no copy of the course found" not in json.dumps(exercise_of(report, "exercise1"))
    report = grade_folder(submission({EX1: FIND_THE_COURSE}), "exercise1")
    ex1 = exercise_of(report, "exercise1")
    assert ex1["score"] == 0, ex1
    assert "no copy of the course found" in json.dumps(ex1)


WALK = """
import json, os
def softmax(x):
    seen = sorted(os.listdir("/"))
    raise RuntimeError("SEEN" + json.dumps(seen) + "SEEN")
"""


def test_the_root_holds_only_what_python_needs(grade_folder, submission, zygote, tmp_path):
    _needs_isolation(zygote, tmp_path)
    report = grade_folder(submission({EX1: WALK}), "exercise1")
    msg = next(t["message"] for t in exercise_of(report, "exercise1")["tests"] if "SEEN" in t["message"])
    seen = set(json.loads(msg.split("SEEN")[1]))
    assert not seen & {"home", "srv", "work", "opt", "mnt", "media", "var", "boot"} - _python_tops(), seen
    assert {"proc", "dev", "tmp"} <= seen


def _python_tops() -> set:
    """Top-level folders the Python installation itself lives in (kept, read-only)."""
    import sys

    return {os.path.realpath(p).strip("/").split("/")[0] for p in (sys.prefix, sys.base_prefix)}


# ---------------------------------------------------------------------------
# the environment

SECRETS = """
import os, posix
def softmax(x):
    raise RuntimeError("ENV " + repr(dict(os.environ)) + " POSIX " + repr(posix.environ)
                       + " RAW " + repr(open("/proc/self/environ", "rb").read()))
"""


@pytest.mark.parametrize("named", [True, False], ids=["secret-names", "plain-names"])
def test_the_worker_environment_holds_no_secret(tmp_path, named):
    """With variables named like secrets the zygote is a new interpreter; without, it is
    forked from the grader (grader.untrusted.startup), whose start-up environment is wiped first."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / EX1).write_text(SECRETS)
    if named:
        env = dict(os.environ, GRADER_SEED_SECRET="s3cret-seed-4411", GITHUB_TOKEN="ghp_t0ken-4411")
    else:
        env = {k: v for k, v in os.environ.items() if not re.search(r"TOKEN|SECRET|PASSW|KEY|AUTH", k, re.I)}
        env.update(COURSE_NOTE="s3cret-seed-4411", MY_PROJECT=str(ROOT), GITHUB_NOTE="ghp_t0ken-4411")
    env.pop("PYTHONPATH", None)
    # a grader run from a virtual environment inside the course's checkout (an activated venv)
    env.update(VIRTUAL_ENV=str(ROOT / ".venv"), PATH=f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    import subprocess
    import sys

    out = tmp_path / "report.json"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "exercise1",
            "--submission",
            tmp_path / "sub",
            "--format",
            "json",
            "--output",
            out,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    text = out.read_text()
    assert "ENV {" in text, r.stderr  # the probe ran and its message is in the report
    for leak in ("s3cret-seed-4411", "ghp_t0ken-4411", "GRADER_SEED_SECRET", "GITHUB_TOKEN", "COURSE_NOTE"):
        assert leak not in text, leak
    msg = next(t["message"] for t in json.loads(text)["exercises"][0]["tests"] if "ENV {" in t["message"])
    seen = msg.split("ENV ")[1].split(" RAW ")[0]
    assert "ENV {" in msg and " POSIX " in msg and " RAW b" in msg, msg
    assert "PYTHONPATH" not in seen, seen
    assert str(ROOT) not in msg, msg  # not even in the environment the worker's process started with


# ---------------------------------------------------------------------------
# threads

THREADED = """
import threading
import torch
def softmax(x):
    out = {}
    def work():
        e = torch.exp(x - x.max(dim=-1, keepdim=True).values)
        out["y"] = e / e.sum(dim=-1, keepdim=True)
    t = threading.Thread(target=work)
    t.start()
    t.join()
    return out["y"]
"""


def test_student_code_may_start_threads(grade_folder, submission, zygote, tmp_path):
    _needs_isolation(zygote, tmp_path)
    report = grade_folder(submission({EX1: THREADED}), "exercise1")
    ex1 = exercise_of(report, "exercise1")
    assert ex1["score"] == 10, [t["message"] for t in ex1["tests"] if t["status"] == "failed"][:2]


# ---------------------------------------------------------------------------
# memory outside the limits: a file system of its own

TMPFS = """
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
def softmax(x):
    if libc.unshare(0x10000000 | 0x00020000) != 0:   # a user and a mount namespace
        raise RuntimeError("refused: " + os.strerror(ctypes.get_errno()))
    os.makedirs("hold", exist_ok=True)
    if libc.mount(b"tmpfs", b"hold", b"tmpfs", 0, b"size=2g") != 0:
        raise RuntimeError("mount refused: " + os.strerror(ctypes.get_errno()))
    with open("hold/blob", "wb") as f:
        for _ in range(16):
            f.write(b"x" * (16 << 20))
    import torch
    e = torch.exp(x - x.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)
"""


def test_no_file_system_of_its_own(grade_folder, submission, zygote, tmp_path):
    """A tmpfs mounted in a user namespace of the worker's own would hold memory
    outside every limit: the worker may create no user namespace."""
    iso = _needs_isolation(zygote, tmp_path)
    assert iso.get("nested_userns") is False, iso
    report = grade_folder(submission({EX1: TMPFS}), "exercise1")
    ex1 = exercise_of(report, "exercise1")
    assert ex1["score"] == 0 and "refused" in json.dumps(ex1), ex1


def test_a_memory_cgroup_where_one_is_delegated(zygote, tmp_path):
    from grader.untrusted import isolation

    base = isolation._cgroup_base()
    if base is None:
        pytest.skip(
            "no cgroup v2 with a delegated memory controller here (the weaker guarantee applies: see README, Security)"
        )
    iso = _isolation(zygote, tmp_path)
    assert iso.get("memory_cgroup", 0) >= Limits().memory_bytes, iso


def test_run_cli_still_grades_the_model_answer():
    r = run_cli("exercise1", "--submission", ROOT / "solutions")
    assert r.returncode == 0 and "10.00 / 10" in r.stdout, r.stdout + r.stderr


# ---------------------------------------------------------------------------
# grade batch survives the loss of a grading process

SLOW_CORRECT = (
    CORRECT
    + """
import time
_softmax = softmax
def softmax(x):
    time.sleep(0.2)
    return _softmax(x)
"""
)


def _children(pid: int) -> list:
    found = []
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(p))
        except (OSError, ValueError, IndexError):
            pass
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def test_batch_regrades_the_students_of_a_lost_grading_process(tmp_path):
    """Every grading process is killed from outside while it grades a student: the
    batch replaces them, grades those students again and finishes with every
    student's right score."""
    import signal
    import subprocess
    import sys
    import time

    subs = tmp_path / "subs"
    for student in ("s1", "s2", "s3"):
        (subs / student).mkdir(parents=True)
        (subs / student / EX1).write_text(SLOW_CORRECT)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "batch",
            subs,
            "--out",
            tmp_path / "out",
            "--exercises",
            "1",
            "--seed-secret",
            "s",
            "--timeout-scale",
            "0.5",
            "--jobs",
            "2",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    killed = []
    try:
        deadline = time.monotonic() + 240
        while not killed and time.monotonic() < deadline and p.poll() is None:
            kids = _children(p.pid)
            zygotes = [k for k in kids if b"grader.untrusted.worker" in _cmdline(k)]
            graders = [k for k in kids if k not in zygotes and b"grader.cli" in _cmdline(k)]
            if any(_children(z) for z in zygotes) and graders:  # a worker exists: a student is in flight
                for g in graders:
                    os.kill(g, signal.SIGKILL)
                    killed.append(g)
            time.sleep(0.05)
        err = p.stderr.read()
        assert p.wait(300) in (0, 1), err
    finally:
        if p.poll() is None:
            p.kill()
    assert killed, "no grading process was seen at work"
    rows = (tmp_path / "out" / "results.csv").read_text().splitlines()  # Student, exercise1, Total, Status
    scores = {line.split(",")[0]: line.split(",")[1] for line in rows[2:]}
    assert scores == {"s1": "10.00", "s2": "10.00", "s3": "10.00"}, (scores, err)
