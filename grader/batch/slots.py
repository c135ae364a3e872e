"""A grading process: one ``Slot`` (its zygote and private folders) grading one student
after another in one pytest session.  The local batch forks these processes
(``grader.batch.pool``); a Dask worker starts them as ``grader.batch.cluster_host``.
Both run ``grading_process``, which speaks ``grader.batch.protocol`` and turns any
failure of its own into one ``Fatal`` message."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

from grader.batch import lost, protocol
from grader.batch.output import Output, error_row
from grader.errors import ErrorKind
from grader.feedback.records import ExerciseStatus, Report, RowStatus


def _scrub(value, replacements):
    """The report with machine-specific paths replaced (so that it is the same
    on every run and machine, and shows the student's entry, not a temp folder)."""
    if isinstance(value, str):
        for pattern, repl in replacements:
            value = pattern.sub(repl, value)
        return value
    if isinstance(value, list):
        return [_scrub(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, replacements) for k, v in value.items()}
    return value


class Slot:
    """A grading process's state: its zygote and its private folders."""

    def __init__(self, folder: Path, limits, exercises, out: Output, zygote):
        self.folder = folder
        self.limits = limits
        self.exercises = exercises
        self.out = out
        self.tmp = folder / "tmp"
        self.sub = folder / "submission"
        self.tmp.mkdir(parents=True, exist_ok=True)
        tempfile.tempdir = str(self.tmp)
        self.zygote = zygote  # started by the parent (it imported torch while the parent did)

    def restart_zygote(self) -> None:
        from grader.transport.processes import Zygote

        try:
            self.zygote.close()
        except Exception:
            pass
        self.zygote = Zygote(preload=True, many=True)

    def zygote_alive(self) -> bool:
        # the first zygote is the parent's child, so ask the kernel, not Popen
        try:
            with open(f"/proc/{self.zygote.proc.pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (OSError, IndexError):
            return False

    def probe(self) -> dict:
        """What isolation the workers get on this machine."""
        from grader.transport.processes import Worker

        self.zygote.wait_ready()
        w = Worker(self.zygote, self.limits, self.tmp / "probe")
        try:
            return dict(w.isolation)
        finally:
            w.close()
            shutil.rmtree(self.tmp / "probe", ignore_errors=True)

    def serve(self, conn) -> None:
        """Grade the students the pool sends, one after another, in one pytest
        session (the suites are collected once per grading process)."""
        from grader.harness.run import Job, serve

        def next_job():
            task = protocol.receive_task(conn)
            if task is protocol.STOP:
                return None
            shutil.rmtree(self.sub, ignore_errors=True)
            self.sub.mkdir(parents=True)
            where = self.sub
            if task["entry"].lower().endswith(".py") and task["files"]:
                # one .py holding every exercise: graded as each exercise's file, under its own name
                where = self.sub / task["entry"]
                where.write_bytes(next(iter(task["files"].values())))
            else:
                for name, data in task["files"].items():
                    (self.sub / name).write_bytes(data)
            if not self.zygote_alive():
                self.restart_zygote()
            return Job(
                where,
                task["seed"],
                self.zygote,
                extra={"task": task, "deaths": lost.Deaths(lost.Process.ZYGOTE), "start": time.monotonic()},
            )

        def on_report(job, report):
            task = job.extra["task"]
            if not self.zygote_alive():
                # the zygote died under this student: nothing of this run can be trusted
                # (grader.batch.lost: graded once more on a new zygote, then a crash row)
                if job.extra["deaths"].died(task) is None:
                    self.restart_zygote()
                    job.zygote = self.zygote
                    return True
                report = None
            try:
                row = self.finish(task, report, time.monotonic() - job.extra["start"], job.extra.get("spend"))
            except Exception as e:  # the grader's own failure
                row = error_row(task, ErrorKind.INTERNAL, f"internal grader error ({type(e).__name__}: {e})")
                self.out.write_state(row)
            protocol.send(conn, protocol.Done(row))
            return False

        serve(self.exercises, next_job, on_report, limits=self.limits)

    def finish(self, task: dict, report, elapsed: float, spend=None) -> dict:
        """Write the student's report and state; the row for the gradebook."""
        student = task["student"]
        shutil.rmtree(self.sub, ignore_errors=True)
        row = {
            "student": student,
            "entry": task["entry"],
            "key": task["key"],
            "seed": task["seed"],
            "elapsed": round(elapsed, 3),
        }
        if spend is not None:
            row["cost"] = spend.as_dict()  # the budgets' accounting (grader.transport.limits.Spend)
        if task.get("run"):
            row["run"] = task["run"]  # regraded by this --force/--only run (see _run)
        if report is None:  # its zygote died each time (grader.batch.lost)
            row.update(status=RowStatus.ERROR, kind=ErrorKind.CRASH, reason=lost.died_reason(lost.Process.ZYGOTE))
            self.out.remove_report(student)
            self.out.write_state(row)
            return row
        tmp = re.escape(str(self.tmp))
        report = _scrub(
            report,
            [
                (re.compile(tmp + r"/grader-\w+/grader-run-\w+"), "<worker folder>"),
                (re.compile(re.escape(str(self.sub))), lambda m: student),
            ],
        )
        report["submission"] = task["entry"]
        if task.get("notes"):
            report["notes"] = task["notes"]
        if task.get("refused"):  # a notebook without an exercise's cell says so, not "no .py file"
            from grader.submission.reader import refuse

            report = refuse(report, task["refused"])
        if task.get("near"):  # a near-miss file name: which file, and how to fix it
            from grader.submission.reader import name_near_misses

            report = name_near_misses(report, task["near"])
            row["near"] = task["near"]
        if task.get("origins"):
            from grader.submission.cells import relocate

            report = relocate(report, task["origins"])
        report["batch"] = {"student": student, "entry": task["entry"], "key": task["key"]}
        record = Report.from_dict(report)
        self.out.write_report(student, record)
        internal = [
            ex.name
            for ex in record.exercises
            if ex.status == ExerciseStatus.ERROR or any(t.kind == ErrorKind.INTERNAL for t in ex.tests)
        ]
        row.update(
            status=RowStatus.GRADED,
            score=record.score,
            max_score=record.max_score,
            exercises={ex.name: ex.score for ex in record.exercises},
        )
        if internal:
            row["internal"] = internal
        self.out.write_state(row)
        return row


def grading_process(conn, start_zygote, make_slot) -> None:
    """A grading process's life, until the batch sends ``None`` or goes away:
    ``start_zygote()`` gives its zygote, ``make_slot(zygote)`` its ``Slot`` and what
    its ``Ready`` message carries; then it grades the students ``conn`` sends.  A
    failure of its own (an import, the zygote) becomes one ``Fatal`` message
    (``grader.batch.protocol``).
    Its zygote is closed at the end; the caller then exits (``os._exit``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    zygote = slot = None
    try:
        zygote = start_zygote()
        slot, ready = make_slot(zygote)
        protocol.send(conn, protocol.Ready(ready))
        slot.serve(conn)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass
    except BaseException as e:
        try:
            protocol.send(conn, protocol.Fatal(f"{type(e).__name__}: {e}"))
        except Exception:
            pass
    finally:
        zygote = slot.zygote if slot is not None else zygote  # a slot restarts its zygote when it dies
        if zygote is not None:
            try:
                zygote.close()
            except Exception:
                pass


def prewarm(exercises) -> None:
    """Import what every grading process needs once, before forking them."""
    import importlib

    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    import torch

    torch.set_num_threads(1)  # no thread pool in a process that forks
    import pytest

    import grader.feedback.report  # noqa: F401  (its Jinja2 environments are cached: compiled once per process)
    import grader.harness.plugin  # noqa: F401
    import grader.harness.run  # noqa: F401

    try:
        import jinja2  # noqa: F401
    except ImportError:
        pass
    from grader.harness.points import suite_module

    for ex in exercises:
        suite_module(ex)  # the course's hidden suite, as the harness will import it
    # what the first grading run would import lazily (autograd's gradcheck pulls in sympy)
    for name in ("pytest_timeout", "torch.fx.experimental.symbolic_shapes", "torch.autograd.gradcheck"):
        try:
            importlib.import_module(name)
        except Exception:
            pass
    # pytest's own plugins load on the first session: run an empty one (collection only)
    import contextlib

    from grader.harness.run import SUITES_DIR

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        pytest.main(
            [
                str(SUITES_DIR / "__init__.py"),
                "-c",
                str(SUITES_DIR / "pytest.ini"),
                "--rootdir",
                str(SUITES_DIR),
                "-p",
                "no:cacheprovider",
                "-p",
                "pytest_timeout",
                "-q",
                "--collect-only",
                "-p",
                "no:warnings",
            ]
        )
