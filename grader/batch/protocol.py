"""The messages between the batch and its grading processes, in one place.

A grading process (``grader.batch.slots.grading_process``, forked by the local pool or
started by a Dask worker as ``grader.batch.cluster_host``) says ``Ready`` once (what
its workers' isolation is, and on a Dask worker its grader's fingerprint), then ``Done``
for every student it is sent, or ``Fatal`` once when a failure of its own (an import,
its zygote) stops it.  The batch sends it a task (a dict of ``TASK`` fields) for each
student, then ``STOP``.  Both ends are the grader's own processes (trusted data); they
exchange ``(kind, value)`` pairs over a ``multiprocessing.connection.Connection``.

``receive`` never raises: a process that died (its end of the pipe closed) or that
sent what is no message gives ``Gone``, which the batch treats as the process's death
(``grader.batch.lost``)."""

from __future__ import annotations

import dataclasses

from grader.errors import StrEnum

STOP = None  # what the batch sends a grading process that it has nothing more for


class Kind(StrEnum):
    """What a grading process says (the first element of each message)."""

    READY = "ready"  # torch, pytest and the suites imported, its zygote probed: send it students
    DONE = "done"  # a student graded (or not): the gradebook row
    FATAL = "fatal"  # a failure of its own: it grades nobody more


@dataclasses.dataclass(frozen=True)
class Ready:
    """The process can grade: ``info`` is its workers' isolation (locally) or, on a Dask
    worker, ``{"isolation", "fingerprint", "cuda"}``."""

    info: dict


@dataclasses.dataclass(frozen=True)
class Done:
    """One student's gradebook row (``grader.batch.slots.Slot.finish``)."""

    row: dict


@dataclasses.dataclass(frozen=True)
class Fatal:
    """A failure of the process's own, as ``"ExceptionType: message"``."""

    reason: str


@dataclasses.dataclass(frozen=True)
class Gone:
    """No message: the process's end closed (it died) or it sent something else."""

    detail: str = "it exited"


Message = Ready | Done | Fatal
_KINDS = {Ready: Kind.READY, Done: Kind.DONE, Fatal: Kind.FATAL}
_TYPES = {kind.value: cls for cls, kind in _KINDS.items()}
_VALUE = {Ready: dict, Done: dict, Fatal: str}  # what each message's value is


def encode(msg: Message) -> tuple:
    """The pair that goes over the connection."""
    (field,) = dataclasses.fields(msg)  # each message holds one value
    return (_KINDS[type(msg)].value, getattr(msg, field.name))


def decode(raw) -> Message | Gone:
    """The message a pair holds, or ``Gone`` for anything else."""
    if not (isinstance(raw, tuple) and len(raw) == 2 and isinstance(raw[0], str) and raw[0] in _TYPES):
        return Gone(f"it sent {type(raw).__name__}, not a message")
    cls = _TYPES[raw[0]]
    if not isinstance(raw[1], _VALUE[cls]):
        return Gone(f"its {raw[0]!r} message held {type(raw[1]).__name__}")
    return cls(raw[1])


def send(conn, msg: Message) -> None:
    """Send ``msg`` (a grading process to the batch)."""
    conn.send(encode(msg))


def receive(conn) -> Message | Gone:
    """The next message from a grading process (``Gone`` if it died)."""
    try:
        return decode(conn.recv())
    except (EOFError, OSError):
        return Gone()


@dataclasses.dataclass(frozen=True)
class Setup:
    """What a Dask worker's grading process (``grader.batch.cluster_host``) is told first:
    the exercises it grades, the workers' ``Limits`` and its private folder."""

    exercises: list
    limits: object
    folder: str


def send_setup(conn, setup: Setup) -> None:
    conn.send(setup)


def receive_setup(conn) -> Setup:
    """The setup the Dask worker sent (anything else is the grader's own bug: it raises)."""
    setup = conn.recv()
    if not isinstance(setup, Setup):
        raise TypeError(f"a grading process expected its Setup, got {type(setup).__name__}")
    return setup


def send_task(conn, task: dict | None) -> None:
    """Send a grading process a student's task, or ``STOP``."""
    conn.send(task)


def receive_task(conn) -> dict | None:
    """The next task the batch sent, or ``None`` (``STOP``, or the batch went away)."""
    try:
        return conn.recv()
    except (EOFError, OSError):
        return STOP
