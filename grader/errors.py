"""What went wrong with a test or a call into the student's code: ``ErrorKind``, and
``StudentError``, the exception that carries one with a message a student can act on.

A leaf: it imports nothing of the project, so that the verdict rules
(``grader.verdicts``), the transport (``grader.transport``), the pytest glue and the
platforms' formats can all name the kinds without importing each other.

The kinds are ``StrEnum`` members (``enum.StrEnum``, or on Python 3.10 the same
three lines of it): each *is* its string (``ErrorKind.LOAD == "load"``,
same hash, ``str()`` and ``format()`` give the value), so a report's ``"kind"`` field
serialises exactly as the bare strings did (``json``, ``orjson``, jinja2 alike) and a
report read back from disk compares equal to the members.
"""

from __future__ import annotations

import enum
import sys

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # Python 3.10: what enum.StrEnum is, minus its checks

    class StrEnum(str, enum.Enum):
        __str__ = str.__str__
        __format__ = str.__format__  # type: ignore[assignment]  # (str's, as 3.11's StrEnum)


class ErrorKind(StrEnum):
    """The ``kind`` of a failed test (the report's ``tests[].kind``) or of a batch row."""

    # the code could not be run at all (the test's status is "error"; see RUN_KINDS)
    MISSING_FILE = "missing_file"  # the exercise's file is not in the submission
    LOAD = "load"  # importing the file failed (syntax, encoding, an exception, a time-out)
    CRASH = "crash"  # the worker process died (exit(), a signal, out of memory)
    TIMEOUT = "timeout"  # one call did not finish within Limits.call_timeout
    BUDGET = "budget"  # not run: the exercise's or the submission's budget is spent
    PROTOCOL = "protocol"  # the worker sent what the grader cannot accept
    # the code ran and the test failed (status "failed")
    EXCEPTION = "exception"  # the student's code raised
    NOT_IMPLEMENTED = "not_implemented"  # the stub's own `raise NotImplementedError`
    RESULT = "result"  # a result that holds no values (a tensor on the meta device)
    FORBIDDEN = "forbidden"  # a forbidden built-in, named in the file or called at run time
    INTEGRITY = "integrity"  # code the integrity rules hold for an instructor's review
    # the grader's own fault (never the student's): the test is an "error" and says so
    INTERNAL = "internal"
    # a batch's row for a submission that was not graded (besides CRASH, TIMEOUT, INTERNAL)
    BAD_ENTRY = "bad_entry"  # the entry could not be read as a submission
    NOT_GRADED = "not_graded"  # the batch stopped before grading it


RUN_KINDS = frozenset(
    {ErrorKind.MISSING_FILE, ErrorKind.LOAD, ErrorKind.CRASH, ErrorKind.TIMEOUT, ErrorKind.BUDGET, ErrorKind.PROTOCOL}
)
"""Kinds that mean the student's code could not be run at all (the test's status is "error")."""


class StudentError(Exception):
    """Something on the student's side went wrong; ``message`` says what, ``hint`` what to do."""

    RUN_KINDS = RUN_KINDS

    def __init__(self, kind: ErrorKind | str, message: str, hint: str | None = None, **details):
        super().__init__(message)
        self.kind = ErrorKind(kind)
        self.message = message
        self.hint = hint
        self.details = details

    def copy(self) -> StudentError:
        """A fresh exception with the same content (re-raising one instance
        would make its traceback grow with every test)."""
        return StudentError(self.kind, self.message, self.hint, **self.details)
