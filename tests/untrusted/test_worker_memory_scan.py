"""Student code that reads its worker's whole writable memory finds no line of any hidden
suite or of ``reference/``, whichever way it is graded: a cold ``grade``, the warm server,
a batch, a batch on a Dask cluster and the Gradescope runner.

The submission (``tests/untrusted/memscan.py``) holds only keyed digests of the hidden
lines and reports what it read and found in the message of the exception it raises at
import.  The control proves the scan finds text that reaches a worker the way the leak
did: a zygote forked from a process that holds the suites' text.
Each test starts torch workers and reads about 1 GB of memory: slow."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.untrusted import memscan

# Slow by design: each test grades (cold, warm, batch, watch) and scans the workers' memory.
pytestmark = pytest.mark.slow

SCALE = "6"  # the scan takes ~10 s of the 20 s a worker may spend importing; room on a loaded machine
LINES = memscan.hidden_lines()


@pytest.fixture(scope="module")
def scanner(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("scanner")
    (folder / "exercise1_softmax.py").write_text(memscan.submission(LINES))
    return folder


def _clean(doc) -> None:
    got = memscan.records(doc)
    assert got, f"no scan record in the report: {json.dumps(doc)[:2000]}"
    for r in got:
        assert r["read"] > 50 << 20 and r["regions"] > 10, r  # it did read the worker's memory
        assert r["n"] == 0, f"hidden lines in a worker's memory: {memscan.describe(LINES, r['found'])} ({r})"


def test_the_needles_are_lines_only_hidden_files_hold():
    """A line that a module a worker runs also has (worker.py's row of dashes, which a traceback reads
    into the worker's memory) is not a needle: finding it would say nothing of a leak."""
    worker = (ROOT / "grader" / "untrusted" / "worker.py").read_bytes().split(b"\n")
    open_text = {line.strip() for line in worker if len(line.strip()) >= memscan.MIN}
    shared = [(f, n) for f, n, s in LINES if s in open_text]
    assert open_text and not shared, shared
    assert len(LINES) > 1000  # the hidden files' own lines are still looked for


CONTROL = r"""
import json, sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tests.untrusted import memscan
held = [p.read_text() for p in memscan.hidden_files()]  # what the old cold grade read before the fork
import torch
from grader.transport.processes import Zygote
z = Zygote(preload=True, fork=True)
assert type(z.proc).__name__ == "ForkedZygote", z.proc
from grader.exercises import lookup
from grader.harness.run import grade
from grader.transport.limits import Limits
report = grade([lookup("exercise1")], Path(sys.argv[2]), seed=0, zygote=z,
               limits=Limits().scaled(float(sys.argv[3])))
z.close()
print("REPORT" + json.dumps(report.to_dict()))
"""


def test_the_scan_finds_hidden_text_a_zygote_inherits(scanner):
    r = subprocess.run(
        [sys.executable, "-c", CONTROL, str(ROOT), str(scanner), SCALE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "GRADER_NO_SERVER": "1"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    got = memscan.records(json.loads(r.stdout.split("REPORT", 1)[1]))
    assert got and all(x["n"] > len(LINES) // 2 for x in got), got


def test_cold_grade(scanner, tmp_path):
    out = tmp_path / "r.json"
    r = run_cli(
        "exercise1",
        "--submission",
        scanner,
        "--format",
        "json",
        "--output",
        out,
        "--timeout-scale",
        SCALE,
        "--no-server",
        timeout=600,
    )
    assert out.is_file(), r.stdout + r.stderr
    _clean(json.loads(out.read_text()))


def test_warm_server(scanner, tmp_path):
    from tests.commands.test_server import _env, _grade, _status, _stop_all

    server_dir = Path(tempfile.mkdtemp(prefix="nngrade-test-"))  # short: a socket path is limited
    env = _env(server_dir)
    try:
        for n in (1, 2):  # the call that starts the server, and one it serves warm
            out = tmp_path / f"r{n}.json"
            r = _grade(
                env,
                "exercise1",
                "--submission",
                scanner,
                "--format",
                "json",
                "--output",
                out,
                "--timeout-scale",
                SCALE,
                timeout=600,
            )
            assert out.is_file(), r.stdout + r.stderr
            _clean(json.loads(out.read_text()))
        status = _status(env)
        assert status and status[1] == 2, "both were graded by the warm server"
    finally:
        _stop_all(server_dir)
        shutil.rmtree(server_dir, ignore_errors=True)


def _class(tmp_path, scanner) -> Path:
    subs = tmp_path / "subs"
    for student in ("ada", "bob"):
        (subs / student).mkdir(parents=True)
        (subs / student / "exercise1_softmax.py").write_text((scanner / "exercise1_softmax.py").read_text())
    return subs


@pytest.mark.parametrize("where", [[], ["--scheduler", "local:1"]], ids=["batch", "dask"])
def test_batch(scanner, tmp_path, where):
    from tests.batch.test_batch import batch

    subs = _class(tmp_path, scanner)
    r = batch(
        subs,
        "--out",
        tmp_path / "out",
        "--exercises",
        "1",
        "--timeout-scale",
        SCALE,
        "--jobs",
        "2",
        *where,
        timeout=600,
    )
    reports = sorted((tmp_path / "out" / "reports").glob("*.json"))
    assert len(reports) == 2, r.stdout + r.stderr
    for p in reports:
        _clean(json.loads(p.read_text()))


def test_gradescope_runner(scanner, tmp_path):
    from tests.formats.test_platforms import run_bundle

    bundle = tmp_path / "autograder.zip"
    r = run_cli("autograder", "--out", bundle, "--exercises", "1", "--timeout-scale", SCALE)
    assert r.returncode == 0, r.stderr
    doc = run_bundle(
        bundle, tmp_path / "root", {"exercise1_softmax.py": (scanner / "exercise1_softmax.py").read_text()}
    )
    _clean(doc)


@pytest.mark.parametrize("mode", ["no-server", "server"])
def test_watch(scanner, tmp_path, mode):
    import time

    from tests.commands.test_server import Terminal, _env, _stop_all

    server_dir = Path(tempfile.mkdtemp(prefix="nngrade-test-"))
    out = tmp_path / "r.json"
    args = [
        "exercise1",
        "--submission",
        scanner,
        "--watch",
        "--format",
        "json",
        "--output",
        out,
        "--timeout-scale",
        SCALE,
    ] + (["--no-server"] if mode == "no-server" else [])
    term = Terminal(args, _env(server_dir, TERM="xterm"))
    try:
        deadline = time.monotonic() + 400
        while not out.is_file() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert out.is_file(), term.out[-3000:]
        time.sleep(0.5)  # written atomically, but read once it has settled
        _clean(json.loads(out.read_text()))
    finally:
        os.write(term.fd, b"\x03")  # Ctrl-C: grade stops what it started
        try:
            term.wait()
        finally:
            term.close()
            _stop_all(server_dir)
        shutil.rmtree(server_dir, ignore_errors=True)
