"""The local pool: ``--jobs`` grading processes forked from the batch process, which
has imported torch, pytest and the suites once (``grader.batch.slots.prewarm``).
The batch process enforces the per-student wall limit and replaces grading
processes that overrun or die."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import time
from pathlib import Path

from grader import settings
from grader.batch import lost, protocol
from grader.batch.output import Output
from grader.batch.slots import Slot, grading_process
from grader.exercises import lookup
from grader.untrusted.syscalls import set_pdeathsig


def _child_main(conn, folder: str, limits, exercise_names, out_root: str, zygote) -> None:
    """A forked grading process: the zygote the pool started for it, one student after another."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    set_pdeathsig()  # die with the batch

    def make_slot(zygote):
        exercises = [lookup(n) for n in exercise_names]
        slot = Slot(Path(folder), limits, exercises, Output(Path(out_root)), zygote)
        return slot, slot.probe()

    try:
        grading_process(conn, lambda: zygote, make_slot)
    finally:
        os._exit(0)


@dataclasses.dataclass
class _Process:
    """A grading process, as the pool sees it."""

    proc: object  # multiprocessing's Process
    conn: object  # the pool's end of its pipe
    folder: Path  # its private folder (in the batch's work folder)
    zygote: object  # grader.transport.processes.Zygote
    task: dict | None = None  # the student it grades now
    started: float = 0.0  # when it got that student (time.monotonic)
    ready: bool = False  # it has said "ready" (torch, pytest and the suites imported)
    done: int = 0  # the students it has graded


PARK_AFTER = 6.0  # seconds: a grading process on one submission this long is parked (Pool._busy)


class Pool:
    """``jobs`` grading processes forked from this (warm) process, each with a
    zygote of its own.  The zygotes are started first, so that they import
    torch while this process imports the rest (``prestart``).  A grading
    process that overruns the per-student wall limit is killed together with
    its zygote (whose workers and their namespaces die with it) and replaced;
    one that dies is replaced and its student graded again once."""

    def __init__(self, jobs: int, workdir: Path, limits, exercises, out: Output, wall_limit: float):
        import multiprocessing

        self.ctx = multiprocessing.get_context("fork")
        self.jobs = jobs
        self.workdir = workdir
        self.limits = limits
        self.exercise_names = [ex.name for ex in exercises]
        self.out = out
        self.wall_limit = wall_limit
        self.procs: dict = {}  # slot -> _Process
        self.spare: list = []
        self._pending: list = []  # the students not yet sent to a grading process (while run runs)
        self._deaths = lost.Deaths()  # the rule for a student whose grading process died (grader.batch.lost)
        self._on_done = None
        self.on_event = None  # on_event(what, value): "ready" (a slot), "start" (a student), "tick"
        self._elapsed = (0.0, 0)  # seconds and number of the submissions graded (Pool._busy)
        self.isolation = None
        self.fatal = None
        self._n = 0
        # One core per grading process, with its zygote and workers: a request and its
        # reply then pass between two processes on the same core, whose caches stay warm
        # (about 6 % more submissions a second here).  Only when the jobs share the cores evenly.
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.cpus = cpus if len(cpus) > 1 and jobs % len(cpus) == 0 and settings.PIN.value() else []

    def prestart(self, n: int) -> None:
        from grader.transport.processes import Zygote

        self.spare = [Zygote(preload=True, many=True) for _ in range(n)]

    def _start(self, slot: int) -> None:
        from grader.transport.processes import Zygote

        zygote = self.spare.pop() if self.spare else Zygote(preload=True, many=True)
        parent, child = self.ctx.Pipe()
        self._n += 1
        folder = self.workdir / f"slot{slot}-{self._n}"
        proc = self.ctx.Process(
            target=_child_main,
            args=(child, str(folder), self.limits, self.exercise_names, str(self.out.root), zygote),
            daemon=True,
        )
        proc.start()
        child.close()
        zygote.hand_over()  # the grading process holds the only copy of the control socket
        if self.cpus:
            for pid in (proc.pid, zygote.proc.pid):  # the zygote's workers inherit it
                try:
                    os.sched_setaffinity(pid, {self.cpus[slot % len(self.cpus)]})
                except OSError:
                    pass
        self.procs[slot] = _Process(proc, parent, folder, zygote)

    @staticmethod
    def _kill_zygote(zygote) -> None:
        try:
            zygote.close()  # its workers and their namespaces die with it
        except Exception:
            pass

    def _stop(self, slot: int, kill: bool = True) -> None:
        p = self.procs.pop(slot)
        if kill and p.proc.is_alive():
            os.kill(p.proc.pid, signal.SIGKILL)
        p.proc.join(5)
        self._kill_zygote(p.zygote)
        p.conn.close()
        shutil.rmtree(p.folder, ignore_errors=True)

    def _error(self, row: dict) -> dict:
        """A student's error row (grader.batch.lost): its report removed, its state written."""
        self.out.remove_report(row["student"])
        self.out.write_state(row)
        return row

    def run(self, tasks: list, on_done) -> None:
        """Grade ``tasks``; ``on_done(row)`` for each student, as soon as the row is known."""
        from multiprocessing.connection import wait

        self._pending, self._deaths, self._on_done = list(tasks), lost.Deaths(), on_done
        for slot in range(min(self.jobs, len(self._pending))):
            self._start(slot)
        for z in self.spare:
            self._kill_zygote(z)
        self.spare = []
        try:
            while self.procs:
                self._stop_overruns()
                self._unpark()
                waitables = [p.conn for p in self.procs.values()] + [p.proc.sentinel for p in self.procs.values()]
                ready = wait(waitables, timeout=0.5) if waitables else []
                for slot, p in list(self.procs.items()):
                    self._step(slot, p, ready)
                self._event("tick", None)
        finally:
            self.close()

    def _more(self) -> bool:
        """Whether a student is waiting for a grading process."""
        return bool(self._pending) and not self.fatal

    def _busy(self, now: float) -> int:
        """Grading processes on a submission that has not yet taken PARK_AFTER seconds, or
        four times the mean of the submissions graded so far where more (a loaded machine),
        three times that for a process's first.  A longer one is parked: it mostly waits on
        its worker (a reply slowed on purpose) or spends its submission's CPU budget; another
        process grades meanwhile, so that it holds up nobody."""
        total, n = self._elapsed
        park = max(PARK_AFTER, 4 * total / n) if n else PARK_AFTER
        return sum(
            1 for p in self.procs.values() if p.task is not None and now - p.started < park * (1 if p.done else 3)
        )

    def _unpark(self) -> None:
        """Start one more grading process where every one is busy and some are parked
        (at most ``jobs`` more)."""
        if (
            self._more()
            and len(self.procs) < 2 * self.jobs
            and self._busy(time.monotonic()) < self.jobs
            and all(p.task is not None for p in self.procs.values())
        ):
            self._start(max(self.procs, default=-1) + 1)

    def _stop_overruns(self) -> None:
        """Grading processes past the per-student wall limit: killed, their students' rows an error."""
        now = time.monotonic()
        for slot, p in list(self.procs.items()):
            if p.task is not None and now - p.started > self.wall_limit:
                t = p.task
                self._stop(slot)
                self._on_done(self._error(lost.overran_row(t, self.wall_limit, now - p.started)))
                if self._more():
                    self._start(slot)

    def _step(self, slot: int, p: _Process, ready: list) -> None:
        """What one grading process said (``ready``: the pipes and processes that have news);
        then its next student, or its end."""
        died = p.proc.sentinel in ready
        if p.conn in ready:
            msg = protocol.receive(p.conn)
            if isinstance(msg, protocol.Ready):
                p.ready = True
                self._event("ready", slot)
                if self.isolation is None:
                    self.isolation = msg.info
            elif isinstance(msg, protocol.Done):
                p.task = None
                p.done += 1
                if isinstance(msg.row.get("elapsed"), (int, float)):
                    self._elapsed = (self._elapsed[0] + msg.row["elapsed"], self._elapsed[1] + 1)
                self._on_done(msg.row)
            elif isinstance(msg, protocol.Fatal):
                self.fatal = f"internal error: {msg.reason}"  # the grader's own failure
                self._pending.clear()
                self._stop(slot)
                return
            else:
                died = True
        if died:
            p.proc.join(5)
        if died and not p.proc.is_alive():
            self._replace(slot, p)
        elif p.ready and p.task is None:
            if self._more():
                if self._busy(time.monotonic()) >= self.jobs:
                    return  # as many busy as jobs: it waits until one ends or is parked
                p.task = self._pending.pop(0)
                p.started = time.monotonic()
                protocol.send_task(p.conn, p.task)
                self._event("start", p.task["student"])
            else:
                protocol.send_task(p.conn, protocol.STOP)
                p.proc.join(10)
                self._stop(slot)

    def _event(self, what: str, value) -> None:
        if self.on_event is not None:
            self.on_event(what, value)

    def _replace(self, slot: int, p: _Process) -> None:
        """A grading process that died: its student graded once more, or its row (grader.batch.lost); a new process."""
        t, code = p.task, p.proc.exitcode
        self._stop(slot, kill=False)
        if t is not None:
            row = self._deaths.died(t, code)
            if row is None:
                self._pending.insert(0, t)
            else:
                self._on_done(self._error(row))
        if self._more():
            self._start(slot)

    def close(self) -> None:
        for slot in list(self.procs):
            self._stop(slot)
        for z in self.spare:
            self._kill_zygote(z)
        self.spare = []
