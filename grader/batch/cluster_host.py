"""A grading process on a Dask worker (``grade batch --scheduler``).

Each thread of a Dask worker owns one of these processes; ``grader.batch.cluster``
starts it with ``subprocess`` (``python -m grader.batch.cluster_host FD``), not with
``multiprocessing``: Dask worker processes are daemonic by default, and a
daemonic process may not start multiprocessing children, but it may start a
plain subprocess.  The process then does what a local batch's grading process
does (``grader.batch.slots``): imports torch, pytest and the suites once,
starts its own zygote (which forks the isolated workers that run student
code) and grades one student after another in one pytest session.

It talks to its Dask worker over a socket with ``multiprocessing.connection``
(grader to grader: trusted data), in ``grader.batch.protocol``: first its ``Setup``.  A task holds the student's files as bytes
(never a path on a shared file system); the reply is the gradebook row with
the student's JSON and HTML reports as text, which only the batch process
writes to disk.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from grader.batch import protocol
from grader.batch.output import Output
from grader.batch.slots import Slot, grading_process, prewarm


class _Captured:
    """An ``Output`` that keeps the student's reports as text instead of
    writing them (the batch process writes them)."""

    def __init__(self):
        self.report = None

    def write_report(self, student, report):
        self.report = Output.render_report(report)  # rendered as the local batch renders it

    def remove_report(self, student):
        self.report = None

    def write_state(self, row):
        pass


class _CapturingSlot(Slot):
    """A ``Slot`` whose gradebook row carries the student's reports (``_report``), for the batch process."""

    def finish(self, task, report, elapsed, spend=None):
        self.out.report = None
        row = super().finish(task, report, elapsed, spend)
        if self.out.report is not None:
            row = dict(row, _report=self.out.report)
        return row


def _die_with_parent() -> None:
    """Exit when the Dask worker that started this process dies.  (Not
    PR_SET_PDEATHSIG: that fires when the *thread* that started the process
    ends, and a Dask worker starts it from whichever thread runs the task.)
    Its zygote dies with it (PR_SET_PDEATHSIG, set from this main thread)."""
    import threading
    import time

    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="die-with-parent").start()


def main(fd: int) -> None:
    from multiprocessing.connection import Connection

    _die_with_parent()
    conn = Connection(fd)

    def start_zygote():
        from grader.transport.processes import Zygote

        return Zygote(preload=True, many=True)  # imports torch while this process does

    def make_slot(zygote):
        from grader.batch.keys import fingerprint
        from grader.exercises import lookup

        setup = protocol.receive_setup(conn)
        exercises = [lookup(n) for n in setup.exercises]
        prewarm(exercises)
        import torch

        slot = _CapturingSlot(Path(setup.folder), setup.limits, exercises, _Captured(), zygote)
        return slot, {
            "isolation": slot.probe(),
            "fingerprint": fingerprint(exercises),
            "cuda": torch.cuda.is_available(),
        }

    try:
        grading_process(conn, start_zygote, make_slot)
    finally:
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    main(int(sys.argv[1]))
