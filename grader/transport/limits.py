"""What one worker and one submission may use: ``Limits`` (the caps a worker runs
under, the time and data budgets of an exercise and of a whole submission) and
``Spend`` (what a submission has used so far, shared by its exercises).

A leaf: plain data, no process machinery, so that a batch can size its budgets
without starting anything.
"""

from __future__ import annotations

import dataclasses

# the caps a worker applies to itself (grader.untrusted.limits), handed to it as they are
WORKER_CAPS = (
    "memory_bytes",
    "cpu_seconds",
    "output_bytes",
    "open_files",
    "isolate",
    "processes",
    "disk_bytes",
    "hide",
)


@dataclasses.dataclass
class Limits:
    call_timeout: float = 10.0  # seconds for one call into student code
    load_timeout: float = 20.0  # seconds to import the student's file
    exercise_budget: float = 120.0  # seconds of worker time for one exercise
    max_timeouts: int = 2  # after this many time-outs the rest is not run
    memory_bytes: int = 2 << 30  # address space on top of what torch takes
    cpu_seconds: int = 300
    output_bytes: int = 4 << 20  # what the student's code may print
    open_files: int = 256
    # isolation (grader.untrusted.isolation): namespaces, a private read-only file-system
    # view and an unprivileged uid, where the machine allows it
    isolate: bool = True
    processes: int = 32  # processes and threads (RLIMIT_NPROC, with a uid of its own)
    disk_bytes: int = 64 << 20  # the worker's private, writable folder
    hide: tuple = ()  # more folders to cover (a batch: submissions, results)
    # what one submission may cost the grader, all exercises together (see Spend)
    reply_bytes: int = 64 << 20  # one reply (the model answers' largest is 1 MB); larger: refused unread
    submission_bytes: int = 512 << 20  # all replies of a submission
    late_bytes: int = 16 << 20  # bytes of replies each exercise still gets once submission_bytes is spent
    submission_budget: float = 10.0  # seconds of worker time, all exercises together (model answers: 0.3 s)
    late_budget: float = 5.0  # seconds each exercise still gets once submission_budget is spent
    # the same in CPU time (the worker's, and the grader's decoding its replies): a busy loop or
    # amplified replies cost CPU that honest students' grading needs; unlike wall time it does not
    # grow when the machine is loaded, so it can be tight (model answers: 0.3 s for all nine)
    submission_cpu: float = 10.0  # CPU seconds, all exercises together
    late_cpu: float = 1.0  # CPU seconds each exercise still gets once submission_cpu is spent

    def worker_caps(self) -> dict:
        """What the worker is told of these limits: ``WORKER_CAPS`` (the folders to hide as text)."""
        caps = {name: getattr(self, name) for name in WORKER_CAPS}
        caps["hide"] = [str(p) for p in self.hide]
        return caps

    def scaled(self, factor: float) -> Limits:
        return dataclasses.replace(
            self,
            call_timeout=self.call_timeout * factor,
            load_timeout=self.load_timeout * factor,
            exercise_budget=self.exercise_budget * factor,
            submission_budget=self.submission_budget * factor,
            late_budget=self.late_budget * factor,
            submission_cpu=self.submission_cpu * factor,
            late_cpu=self.late_cpu * factor,
        )


class Spend:
    """What one submission has cost so far, all its exercises together: seconds of
    worker time (requests, imports included, timed from the grader's side, so that
    waiting on a slow or dripping reply counts as much as a busy loop) and bytes of
    replies.  The grader keeps a submission within ``Limits.submission_budget``
    seconds (then ``late_budget`` more for each exercise not yet graded, enough for
    any correct answer) and ``submission_bytes`` (then ``late_bytes`` more for each
    exercise), so that no submission holds a
    batch's grading slot for long, whatever it does.  ``cpu``: CPU seconds of its
    workers and of the grader decoding their replies, kept within ``submission_cpu``
    (then ``late_cpu`` for each exercise): what a busy loop or amplified replies
    take from the other students; waiting costs wall time only (a batch grades
    others meanwhile: ``grader.batch``'s parked slots)."""

    __slots__ = ("seconds", "bytes", "cpu")

    def __init__(self):
        self.seconds = 0.0
        self.bytes = 0
        self.cpu = 0.0

    def as_dict(self) -> dict:
        """For a batch's state row: what grading this submission cost."""
        return {"wall": round(self.seconds, 3), "cpu": round(self.cpu, 3), "bytes": self.bytes}
