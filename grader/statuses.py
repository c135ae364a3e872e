"""The statuses of a grading, one declared vocabulary: a test's (``TestStatus``), an
exercise's (``ExerciseStatus``) and a batch's gradebook row (``RowStatus``).

A leaf beside ``grader.errors`` (whose ``StrEnum`` they are): it imports nothing else of the
project, so that every layer names the statuses, the submission readers included (they mark
an exercise they refused, below the report's records in ``grader.feedback.records``, which
re-exports these).  Each member *is* its string (``TestStatus.PASSED == "passed"``), so the
report's JSON data and the wire see exactly what they always did.
"""

from __future__ import annotations

from grader.errors import StrEnum


class TestStatus(StrEnum):
    """A test's verdict (the report's ``tests[].status``)."""

    __test__ = False  # not a pytest test class

    PASSED = "passed"
    FAILED = "failed"  # the code ran and the result was wrong (or it raised)
    ERROR = "error"  # the code could not be run (grader.errors.RUN_KINDS), or the grader failed
    SKIPPED = "skipped"  # not checked, for a reason of the grader's: its points are kept


class ExerciseStatus(StrEnum):
    """An exercise's status (the report's ``exercises[].status``)."""

    GRADED = "graded"
    MISSING = "missing"  # its file is not in the submission
    LOAD_ERROR = "load_error"  # its file did not load
    ERROR = "error"  # its tests could not be run: the grader's fault


class RowStatus(StrEnum):
    """A batch's gradebook row (``grade batch``'s state, results.csv): its report was made, or not."""

    GRADED = "graded"
    ERROR = "error"  # not graded: its ``kind`` (an ErrorKind) and ``reason`` say why


FAILING = frozenset({TestStatus.FAILED, TestStatus.ERROR})
"""The statuses of a test that lost its points."""
NOT_LOADED = frozenset({ExerciseStatus.MISSING, ExerciseStatus.LOAD_ERROR})
"""The statuses of an exercise whose file could not be graded at all."""
