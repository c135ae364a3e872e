"""One rule for a submission whose grading died or overran, whichever path graded it
(the local pool, a Dask worker, a grading process's own zygote).

* **Overran**: a grading process still on one student past the whole-submission wall
  limit (``--submission-timeout``) is killed with its zygote and workers; the student
  gets a ``timeout`` row at once (grading it again would take as long).
* **Died**: a grading process (or the zygote that forks its workers) that dies under a
  student is replaced and the student graded once more; a second death gives a
  ``crash`` row.  A Dask worker process that dies is retried by the scheduler
  (``distributed.scheduler.allowed-failures``); when it gives up, the same ``crash`` row.

Either row is a failure to grade, never a score: the student's report is removed and the
reason says what happened, which process, and what to do."""

from __future__ import annotations

import enum
import signal

from grader.batch.output import error_row
from grader.errors import ErrorKind

ATTEMPTS = 2  # a submission is graded at most this many times when its grading process dies


class Process(enum.Enum):
    """The process that died, as the reason names it, and how often it died."""

    GRADING = ("the grader's grading process", "twice")  # the pool's, or a Dask worker's cluster_host
    ZYGOTE = ("the grader's worker process", "twice")  # a grading process's zygote
    CLUSTER_WORKER = ("a cluster worker", "more than once")  # the Dask worker (the scheduler's retries)

    def __init__(self, noun: str, times: str):
        self.noun, self.times = noun, times


def how(exitcode: int | None) -> str:
    """How a process ended, for the reason (" (killed by SIGKILL)"), or "" if unknown."""
    if exitcode is None:
        return ""
    if exitcode < 0:
        try:
            return f" (killed by {signal.Signals(-exitcode).name})"
        except ValueError:
            return f" (killed by signal {-exitcode})"
    return f" (exit code {exitcode})"


def died_reason(process: Process, exitcode: int | None = None) -> str:
    return f"grading this submission stopped {process.noun} {process.times}{how(exitcode)}; grade it on its own"


def died_row(task: dict, process: Process, exitcode: int | None = None) -> dict:
    """The row of a student whose grading process died every time it was graded."""
    return error_row(task, ErrorKind.CRASH, died_reason(process, exitcode))


def overran_reason(wall_limit: float) -> str:
    return f"grading took longer than the whole-submission limit ({wall_limit:.0f} s) and was stopped"


def overran_row(task: dict, wall_limit: float, elapsed: float) -> dict:
    """The row of a student whose grading process overran the wall limit (and was killed)."""
    return error_row(task, ErrorKind.TIMEOUT, overran_reason(wall_limit), elapsed)


class Deaths:
    """Counts the deaths of ``process`` under each student: ``died`` says what follows one."""

    def __init__(self, process: Process = Process.GRADING):
        self.process = process
        self._count: dict = {}

    def died(self, task: dict, exitcode: int | None = None) -> dict | None:
        """``None``: grade the student again (on a fresh process); else the student's row."""
        n = self._count[task["student"]] = self._count.get(task["student"], 0) + 1
        return None if n < ATTEMPTS else died_row(task, self.process, exitcode)
