"""Shared fixtures for the harness's own tests."""

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests import tier

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
os.environ.setdefault("OMP_NUM_THREADS", "1")
# `grade` run by the tests grades in its own process: no warm server left behind
# (tests/commands/test_server.py turns it on, in folders of its own)
os.environ["GRADER_NO_SERVER"] = "1"


@pytest.fixture(scope="session")
def zygote():
    """One warm worker for the whole test session (as batch grading uses it)."""
    from grader.transport.processes import Zygote

    z = Zygote(preload=True)
    yield z
    z.close()


@pytest.fixture
def grade_folder(zygote):
    """grade_folder(path, 'exercise1', ..., limits=None) → the report's JSON data."""
    from grader.exercises import lookup
    from grader.harness.run import grade

    def run(folder, *names, limits=None, seed=0):
        exercises = [lookup(n) for n in names]
        return grade(exercises, Path(folder), seed=seed, limits=limits, zygote=zygote).to_dict()

    return run


@pytest.fixture
def submission(tmp_path):
    """submission({'exercise1_softmax.py': source, ...}) → a folder holding those files."""

    def make(files: dict) -> Path:
        for name, text in files.items():
            data = text if isinstance(text, bytes) else textwrap.dedent(text).encode()
            (tmp_path / name).write_bytes(data)
        return tmp_path

    return make


def pytest_configure(config):
    tier.install()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Which test runs, and in which tier (tests/tier.py), from its fixtures' setup to their teardown."""
    tier.STATE.update(fast=item.get_closest_marker("slow") is None, test=item.nodeid)
    try:
        return (yield)
    finally:
        tier.STATE.update(fast=False, test="")


def run_cli(*args, cwd=None, timeout=120, env=None):
    """Run `grade` as a user would; returns CompletedProcess with text output.  In a test not
    marked slow it must end before importing torch (help, a usage error): else the test fails."""
    argv = [sys.executable, "-m", "grader.cli", *map(str, args)]
    if tier.STATE["fast"]:
        return tier.run_until_torch(argv, cwd=cwd or ROOT, timeout=timeout, env=env)
    return subprocess.run(argv, cwd=cwd or ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def live_processes(holds, wait: float = 5.0, poll: float = 0.1) -> list:
    """Live processes (not zombies) for whose pid ``holds(pid)`` is true (it may raise OSError
    for a process that is gone), after giving the kernel up to ``wait`` seconds to finish
    killing them."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if holds(pid) and Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                    found.append(int(pid))
            except OSError:
                pass
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(poll)


def exercise_of(report, name):
    return next(e for e in report["exercises"] if e["name"] == name)


def screenshot(page: Path, png: Path, profile: Path, size=(1200, 1600), timeout=90) -> Path:
    """A PNG of a local page as headless Chromium shows it (``CHROMIUM`` must be set);
    ``profile`` is a new, empty folder for the browser's own files."""
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size={size[0]},{size[1]}",
            Path(page).as_uri(),
        ],
        capture_output=True,
        timeout=timeout,
    )
    return png
