"""Typed records of a grading, from a test's outcome to the whole report.

- ``TestRecord``: one test as the pytest plugin saw it (its points, status, message, ...),
  before scoring; ``ExerciseRun``: what running an exercise's tests cost and how the
  submission's file loaded.  Both stay on the grader's side.
- ``TestResult``, ``ExerciseResult``, ``Report``: the scored report
  (``grader.feedback.scoring`` makes them).  Their ``to_dict()`` is the report's JSON data
  exactly as every format, the batch and the platforms read it: the same keys in the same
  order, an optional key (``kind``, ``trace``, ``reproducer``, ``devices``; ``review``,
  ``trace``) only when set.  ``from_dict()`` reads such data back; keys that other code
  added to the data after grading (``notes``, say) are kept, in order, after the known ones.
- ``TestStatus``, ``ExerciseStatus`` (and ``RowStatus``, a batch's row): the statuses, one declared
  vocabulary, declared in the leaf ``grader.statuses`` (so that the submission readers, below these
  records, name them too) and re-exported here.  They are ``StrEnum`` members (each *is* its string,
  as ``grader.errors.ErrorKind``); ``from_dict`` reads a status (and a test's ``kind``, an ``ErrorKind``) into its member, refusing an
  unknown one (``ValueError``), and ``to_dict`` writes plain strings, so the JSON data and
  the wire see exactly what they always did.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from grader.errors import ErrorKind, StrEnum
from grader.statuses import FAILING, NOT_LOADED, ExerciseStatus, RowStatus, TestStatus

__all__ = [
    "FAILING",
    "NOT_LOADED",
    "ExerciseRun",
    "ExerciseResult",
    "ExerciseStatus",
    "GradeRow",
    "Report",
    "RowStatus",
    "TestRecord",
    "TestResult",
    "TestStatus",
]


@dataclass
class TestRecord:
    """One test of a hidden suite, as the plugin records it while the test runs."""

    __test__ = False  # not a pytest test class

    exercise: str
    name: str
    description: str
    points: float  # its fixed points (grader.harness.points)
    visible: bool  # its input may be shown in full (it may get a reproducer)
    status: TestStatus = TestStatus.PASSED
    message: str = ""
    hint: str = ""
    kind: ErrorKind | None = None  # why the student's code could not be judged (StudentError.kind, internal)
    trace: str | None = None  # the grader's traceback, with --debug only
    reproducer: str | None = None  # a failed visible test's script
    devices: list[str] | None = None  # the devices it ran on, where more than one
    failed_on: str | None = None  # the device of the run under way (grader.harness.points.run_on_devices)


@dataclass
class ExerciseRun:
    """How an exercise's tests ran: their cost and, if its file did not load, why."""

    elapsed: float = 0.0
    restarts: int = 0
    timeouts: int = 0
    review: list[Any] = field(default_factory=list)  # what the integrity scan flagged, what the scans could not walk
    status: ExerciseStatus = ExerciseStatus.GRADED
    message: str = ""
    hint: str = ""
    output_cut: int = 0  # bytes the student's code printed past the cap (grader.untrusted.output)


_NAMES: dict[type[Any], tuple[str, ...]] = {}


def _names(cls: type[Any]) -> tuple[str, ...]:
    """A record class's field names in order, less ``extra`` (a report has thousands of records:
    computed once per class)."""
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.name != "extra")
    return names


_D = TypeVar("_D", bound="_Data")


class _Data:
    """``to_dict``/``from_dict`` of a report's record: its fields in their order (the report's
    key order), an ``OPTIONAL`` one only when set (not None), a ``PARTS`` one (a list of
    records of another class) converted item by item, then ``extra``."""

    OPTIONAL: ClassVar[tuple[str, ...]] = ()
    PARTS: ClassVar[dict[str, type[_Data]]] = {}  # field → the class of its items
    VOCABULARY: ClassVar[dict[str, type[StrEnum]]] = {}  # field → the enum its value is read into
    extra: dict[str, Any]  # keys other code added to the data after grading, kept in order

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in _names(type(self)):
            value = getattr(self, name)
            if name in self.OPTIONAL and value is None:
                continue
            if name in self.PARTS:
                value = [item.to_dict() for item in value]
            elif isinstance(value, enum.Enum):  # a status, an ErrorKind: the plain string
                value = value.value
            out[name] = value
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls: type[_D], data: dict[str, Any]) -> _D:
        known = set(_names(cls))
        kwargs = {k: v for k, v in data.items() if k in known}
        for key, part in cls.PARTS.items():
            kwargs[key] = [part.from_dict(item) for item in kwargs.get(key, [])]
        for key, vocabulary in cls.VOCABULARY.items():
            if kwargs.get(key) is not None:
                kwargs[key] = vocabulary(kwargs[key])
        kwargs["extra"] = {k: v for k, v in data.items() if k not in known}
        return cls(**kwargs)


@dataclass
class TestResult(_Data):
    """One test in the report: its verdict and the points it earned."""

    __test__ = False

    name: str
    description: str
    status: TestStatus
    score: float
    max_score: float
    message: str
    hint: str
    visible: bool
    kind: ErrorKind | None = None
    trace: str | None = None
    reproducer: str | None = None
    devices: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    OPTIONAL = ("kind", "trace", "reproducer", "devices")
    VOCABULARY = {"status": TestStatus, "kind": ErrorKind}


@dataclass
class ExerciseResult(_Data):
    """One exercise in the report: its score, status and tests."""

    name: str
    title: str
    file: str
    score: float
    max_score: float
    status: ExerciseStatus
    message: str
    hint: str
    tests: list[TestResult] = field(default_factory=list)
    review: list[Any] | None = None
    trace: str | None = None  # why its tests could not be run, with --debug only
    extra: dict[str, Any] = field(default_factory=dict)

    OPTIONAL = ("review", "trace")
    PARTS = {"tests": TestResult}
    VOCABULARY = {"status": ExerciseStatus}


@dataclass
class Report(_Data):
    """A submission's report: the sum of its exercises, and what graded it."""

    score: float
    max_score: float
    exercises: list[ExerciseResult]
    seed: int
    submission: str
    grader_version: str
    torch_version: str
    cuda: bool
    extra: dict[str, Any] = field(default_factory=dict)

    PARTS = {"exercises": ExerciseResult}


@dataclass
class GradeRow(_Data):
    """A student's row in a batch's gradebook (``grade batch``): its state file, results.csv,
    grades.csv, the summary.  Its JSON data (``to_dict``) is what crosses from a grading
    process and what the state file holds; keys of the batch's own (``cost``, ``run``, the
    Dask ``worker``) are ``extra``."""

    student: str
    status: RowStatus
    entry: str = ""  # the entry it was read from (a folder, a .zip, ...)
    key: str | None = None
    seed: int | None = None
    score: float | None = None  # graded: the total, overrides applied where shown
    max_score: float | None = None
    exercises: dict[str, float] | None = None  # graded: each exercise's points
    kind: ErrorKind | None = None  # not graded: why (BAD_ENTRY, NOT_GRADED, CRASH, TIMEOUT, INTERNAL)
    reason: str | None = None
    elapsed: float | None = None
    internal: list[str] | None = None  # graded, but these exercises hit the grader's own error
    overrides: list[dict[str, Any]] | None = None  # the instructor's, as applied (grader.batch.output)
    late: bool | None = None  # Canvas marked the submission late
    near: dict[str, Any] | None = None  # near-miss file names the reader found
    extra: dict[str, Any] = field(default_factory=dict)

    OPTIONAL = (
        "key",
        "seed",
        "score",
        "max_score",
        "exercises",
        "kind",
        "reason",
        "elapsed",
        "internal",
        "overrides",
        "late",
        "near",
    )
    VOCABULARY = {"status": RowStatus, "kind": ErrorKind}

    @property
    def graded(self) -> bool:
        return self.status == RowStatus.GRADED
