"""One rule for a submission whose grading process died or overran (grader.batch.lost),
and the typed messages between the batch and its grading processes (grader.batch.protocol):
the local pool and a Dask worker give the same row for the same dead or overrunning process."""

from __future__ import annotations

import ast
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import time
from multiprocessing import Pipe
from pathlib import Path

import pytest

from grader.batch import lost, protocol
from grader.errors import ErrorKind
from tests.conftest import ROOT

TASK = {"student": "ada", "entry": "ada/", "key": "k" * 64, "seed": 7, "files": {}}
WALL = 1.0


# -- the rule ------------------------------------------------------------------------------


def test_died_once_is_graded_again_died_twice_is_a_crash_row():
    deaths = lost.Deaths()
    assert deaths.died(TASK, -signal.SIGKILL) is None  # graded once more
    assert deaths.died(dict(TASK, student="eve"), 1) is None  # another student's death is its own
    row = deaths.died(TASK, -signal.SIGKILL)
    assert row == {
        "student": "ada",
        "entry": "ada/",
        "key": "k" * 64,
        "seed": 7,
        "status": "error",
        "kind": ErrorKind.CRASH,
        "reason": "grading this submission stopped the grader's grading process twice "
        "(killed by SIGKILL); grade it on its own",
    }


def test_the_reason_names_the_process_and_how_it_ended():
    assert lost.died_reason(lost.Process.ZYGOTE) == (
        "grading this submission stopped the grader's worker process twice; grade it on its own"
    )
    assert lost.died_reason(lost.Process.CLUSTER_WORKER) == (
        "grading this submission stopped a cluster worker more than once; grade it on its own"
    )
    assert lost.how(3) == " (exit code 3)" and lost.how(None) == "" and lost.how(-9) == " (killed by SIGKILL)"


def test_overran_is_a_timeout_row_at_once():
    row = lost.overran_row(TASK, 300, 301.23456)
    assert row["kind"] == ErrorKind.TIMEOUT and row["status"] == "error" and row["elapsed"] == 301.235
    assert row["reason"] == "grading took longer than the whole-submission limit (300 s) and was stopped"


# -- the protocol ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "msg",
    [protocol.Ready({"mode": "namespaces"}), protocol.Done({"student": "ada"}), protocol.Fatal("OSError: disk full")],
)
def test_each_message_goes_over_a_pipe_and_comes_back(msg):
    ours, theirs = Pipe()
    protocol.send(theirs, msg)
    assert protocol.receive(ours) == msg


@pytest.mark.parametrize("raw", ["ready", ("done",), ("done", "not a row"), ("fatal", None), ("hello", {}), None])
def test_what_is_no_message_is_gone(raw):
    assert isinstance(protocol.decode(raw), protocol.Gone)


def test_a_closed_pipe_is_gone_and_a_closed_batch_is_stop():
    ours, theirs = Pipe()
    theirs.close()
    assert protocol.receive(ours) == protocol.Gone()
    assert protocol.receive_task(ours) is protocol.STOP


def test_no_batch_module_but_the_protocol_sends_or_receives():
    """The batch's side and the grading process's side speak only through grader.batch.protocol."""
    for path in (ROOT / "grader" / "batch").glob("*.py"):
        if path.name == "protocol.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and not (isinstance(node.func.value, ast.Name) and node.func.value.id == "protocol")
            ):
                assert node.func.attr not in ("send", "recv"), f"{path.name}:{node.lineno}"


# -- the same row from the local pool and from a Dask worker -----------------------------------

DIE = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
OVERRUN = "import time\ntime.sleep(60)\n"


def _run(script: str) -> None:
    exec(script)


class _Out:
    def __init__(self):
        self.states = []

    def remove_report(self, student):
        pass

    def write_state(self, row):
        self.states.append(row)


def _pool_row(tmp_path: Path, script: str) -> dict:
    """The row the local pool gives when each grading process it gives the task to runs ``script``."""
    from grader.batch.pool import Pool, _Process

    ctx = multiprocessing.get_context("fork")
    pool = Pool.__new__(Pool)
    pool.jobs, pool.fatal, pool._elapsed, pool.on_event, pool.wall_limit = 1, None, (0.0, 0), None, WALL
    pool.out, pool._deaths, rows = _Out(), lost.Deaths(), []
    pool._on_done = rows.append
    pool._start = lambda slot: None
    pool._pending, pool.procs = [dict(TASK)], {}
    for attempt in range(3):
        if rows or not pool._pending:
            break
        proc = ctx.Process(target=_run, args=(script,), daemon=True)
        proc.start()
        ours, _theirs = ctx.Pipe()
        p = _Process(
            proc, ours, tmp_path / f"p{attempt}", None, task=pool._pending.pop(0), ready=True, started=time.monotonic()
        )
        pool.procs[0] = p
        if script is OVERRUN:
            time.sleep(WALL + 0.2)
            pool._stop_overruns()
        else:
            proc.join(30)
            pool._step(0, p, [proc.sentinel])
    assert not pool.procs
    (row,) = rows
    assert pool.out.states == [row]
    return row


def _dask_row(tmp_path: Path, script: str) -> dict:
    """The row a Dask worker's GradingPlugin gives when each grading process it starts runs ``script``
    once it has the task."""
    cluster = pytest.importorskip("grader.batch.cluster")
    from multiprocessing.connection import Connection

    class Host(cluster._Host):
        def start(self):
            self._n += 1
            (self.folder / f"host{self._n}").mkdir(parents=True, exist_ok=True)
            ours, theirs = socket.socketpair()
            self.log = open(self.folder / f"host{self._n}" / "log.txt", "w+b")
            code = (
                "import sys\nfrom multiprocessing.connection import Connection\n"
                "conn = Connection(int(sys.argv[1]))\nconn.recv()\n" + script
            )
            self.proc = subprocess.Popen(
                [sys.executable, "-c", code, str(theirs.fileno())],
                pass_fds=[theirs.fileno()],
                stdout=self.log,
                stderr=self.log,
            )
            theirs.close()
            self.conn = Connection(ours.detach())
            self.info = {"fingerprint": "fp", "isolation": {"mode": "namespaces"}, "cuda": False}

    plugin = cluster.GradingPlugin({"fingerprint": "fp"})
    host = Host({}, False, tmp_path)
    try:
        return plugin._grade(host, dict(TASK, sha256={}), WALL)
    finally:
        host.stop()


@pytest.mark.parametrize("script", [DIE, OVERRUN], ids=["died", "overran"])
def test_the_pool_and_dask_give_the_same_row(tmp_path, script):
    local = _pool_row(tmp_path / "local", script)
    dask = _dask_row(tmp_path / "dask", script)
    if script is OVERRUN:
        assert local.pop("elapsed") > WALL and dask.pop("elapsed") > WALL
        assert local["kind"] == ErrorKind.TIMEOUT
    else:
        assert local["kind"] == ErrorKind.CRASH and "(killed by SIGKILL)" in local["reason"]
    assert local == dask
    assert not os.listdir(tmp_path / "dask") or all(not any(d.iterdir()) for d in (tmp_path / "dask").iterdir())
