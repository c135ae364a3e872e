"""`grade` where things go wrong around it: no torch, a warm server that cannot start,
SIGTERM/SIGHUP, outputs that are not files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.commands.test_server import _alive, _descendants
from tests.conftest import ROOT


def _env(**extra) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _run(args, env, cwd=ROOT, timeout=300, python_args=("-m", "grader.cli")):
    return subprocess.run(
        [sys.executable, *python_args, *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# -- 1. no torch --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("server", [False, True])
def test_without_torch_one_clear_line_and_exit_2(tmp_path, server):
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "torch.py").write_text("raise ModuleNotFoundError(\"No module named 'torch'\", name='torch')\n")
    env = _env(PYTHONPATH=f"{fake}{os.pathsep}{ROOT}")
    if server:
        env.pop("GRADER_NO_SERVER", None)
        env.pop("CI", None)
        env["GRADER_SERVER_DIR"] = str(tmp_path / "srv")
    r = _run(["3"], env)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    line = f"grade: error: PyTorch is not installed in this Python ({sys.executable}): pip install torch"
    assert r.stderr.strip().splitlines()[-1] == line, r.stderr
    if not server:
        assert r.stderr.strip() == line


# -- 2. the warm server cannot start --------------------------------------------------------------

FAILING_START = """
import subprocess, sys
real = subprocess.Popen
class Refused(subprocess.Popen):
    def __init__(self, args, *a, **k):
        if "grader.commands.server" in list(map(str, args)):
            raise PermissionError(13, "Permission denied", sys.executable)
        super().__init__(args, *a, **k)
subprocess.Popen = Refused
from grader.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_server_that_cannot_start_means_grading_here(tmp_path):
    env = _env(GRADER_SERVER_DIR=tmp_path / "srv")
    env.pop("GRADER_NO_SERVER", None)
    env.pop("CI", None)
    r = _run(["1", "--submission", ROOT / "solutions", "--format", "json"], env, python_args=("-c", FAILING_START))
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == 0, r.stderr
    assert '"score": 10' in r.stdout
    assert len(r.stderr.strip().splitlines()) <= 1, r.stderr


# -- 5. SIGTERM / SIGHUP --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_clean_up_like_ctrl_c(tmp_path, sig):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader.cli", "all", "--no-server", "--submission", ROOT / "solutions"],
        cwd=ROOT,
        env=_env(TMPDIR=tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not any(p.name.startswith("grader-") for p in tmp.iterdir()):  # grading has begun
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        time.sleep(1)
        running = _descendants(proc.pid)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err, err
    deadline = time.monotonic() + 30

    def left():  # torch's own compile cache (torchinductor_USER) stays after any run, interrupted or not
        return [p for p in tmp.iterdir() if not p.name.startswith("torchinductor_")]

    while time.monotonic() < deadline and (left() or any(_alive(p) for p in running)):
        time.sleep(0.05)
    assert left() == []
    assert not [p for p in running if _alive(p)]


# -- 4. the build backend's floor -------------------------------------------------------------------


def _setuptools_floor(pyproject_text: str):
    import tomllib
    from packaging.requirements import Requirement

    reqs = [Requirement(r) for r in tomllib.loads(pyproject_text)["build-system"]["requires"]]
    return next(r.specifier for r in reqs if r.name == "setuptools")


def test_setuptools_that_builds_wheels_without_the_wheel_package_is_required():
    """setuptools < 70.1 needs `wheel` for bdist_wheel: `pip install --no-build-isolation .`
    in a fresh venv (setuptools 65) fails "invalid command 'bdist_wheel'"."""
    from grader.commands.release import PYPROJECT

    for text in (
        (ROOT / "pyproject.toml").read_text(),
        PYPROJECT.format(version="0", deps="[]", requires_python=">=3.10"),
    ):
        spec = _setuptools_floor(text)
        assert "70.0.9" not in spec and "65.5" not in spec and "70.1" in spec, spec


# -- 6. --watch with a data format; --output to a device ------------------------------------------


@pytest.mark.slow
def test_watch_with_json_keeps_the_banner_out_of_the_json(tmp_path):
    import json

    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "exercise1_softmax.py").write_text((ROOT / "solutions" / "exercise1_softmax.py").read_text())
    err_file = tmp_path / "stderr.txt"
    with open(err_file, "w") as err:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "grader.cli",
                "1",
                "--watch",
                "--format",
                "json",
                "--no-server",
                "--submission",
                folder,
            ],
            cwd=ROOT,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            deadline = time.monotonic() + 120
            while "Watching" not in err_file.read_text():
                assert proc.poll() is None and time.monotonic() < deadline, err_file.read_text()
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    report = json.loads(out)  # nothing but the report on standard output
    assert report["score"] == report["max_score"] == 10
    assert "grade --watch" in err_file.read_text()


@pytest.mark.slow
def test_output_to_a_device_is_text():
    r = _run(["1", "--submission", ROOT / "solutions", "--output", "/dev/null"], _env())
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip().endswith("report written to /dev/null"), r.stderr
    assert Path("/dev/null").is_char_device()
