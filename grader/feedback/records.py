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
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class TestRecord:
    """One test of a hidden suite, as the plugin records it while the test runs."""

    __test__ = False  # not a pytest test class

    exercise: str
    name: str
    description: str
    points: float     # its fixed points (grader.harness.points)
    visible: bool     # its input may be shown in full (it may get a reproducer)
    status: str = "passed"  # passed, failed, error, skipped
    message: str = ""
    hint: str = ""
    kind: str | None = None        # why the student's code could not be judged (StudentError.kind, internal)
    trace: str | None = None       # the grader's traceback, with --debug only
    reproducer: str | None = None  # a failed visible test's script
    devices: list | None = None    # the devices it ran on, where more than one
    failed_on: str | None = None   # the device of the run under way (grader.harness.points.run_on_devices)


@dataclass
class ExerciseRun:
    """How an exercise's tests ran: their cost and, if its file did not load, why."""

    elapsed: float = 0.0
    restarts: int = 0
    timeouts: int = 0
    review: list = field(default_factory=list)  # what the integrity scan flagged, what the scans could not walk
    status: str = "graded"  # or missing, load_error
    message: str = ""
    hint: str = ""


def _known(cls) -> tuple:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name != "extra")


def _as_dict(record, required: tuple, optional: tuple, convert=None) -> dict:
    out = {}
    for key in required + optional:
        value = getattr(record, key)
        if key in optional and value is None:
            continue
        out[key] = convert(key, value) if convert else value
    out.update(record.extra)
    return out


def _kwargs(cls, data: dict) -> dict:
    known = _known(cls)
    kwargs = {k: v for k, v in data.items() if k in known}
    kwargs["extra"] = {k: v for k, v in data.items() if k not in known}
    return kwargs


@dataclass
class TestResult:
    """One test in the report: its verdict and the points it earned."""

    __test__ = False

    name: str
    description: str
    status: str
    score: float
    max_score: float
    message: str
    hint: str
    visible: bool
    kind: str | None = None
    trace: str | None = None
    reproducer: str | None = None
    devices: list | None = None
    extra: dict = field(default_factory=dict)

    REQUIRED = ("name", "description", "status", "score", "max_score", "message", "hint", "visible")
    OPTIONAL = ("kind", "trace", "reproducer", "devices")

    def to_dict(self) -> dict:
        return _as_dict(self, self.REQUIRED, self.OPTIONAL)

    @classmethod
    def from_dict(cls, data: dict) -> TestResult:
        return cls(**_kwargs(cls, data))


@dataclass
class ExerciseResult:
    """One exercise in the report: its score, status and tests."""

    name: str
    title: str
    file: str
    score: float
    max_score: float
    status: str  # graded, missing, load_error, error (the grader's fault)
    message: str
    hint: str
    tests: list = field(default_factory=list)  # TestResult
    review: list | None = None
    trace: str | None = None  # why its tests could not be run, with --debug only
    extra: dict = field(default_factory=dict)

    REQUIRED = ("name", "title", "file", "score", "max_score", "status", "message", "hint", "tests")
    OPTIONAL = ("review", "trace")

    def to_dict(self) -> dict:
        return _as_dict(self, self.REQUIRED, self.OPTIONAL,
                        lambda key, v: [t.to_dict() for t in v] if key == "tests" else v)

    @classmethod
    def from_dict(cls, data: dict) -> ExerciseResult:
        kwargs = _kwargs(cls, data)
        kwargs["tests"] = [TestResult.from_dict(t) for t in kwargs.get("tests", [])]
        return cls(**kwargs)


@dataclass
class Report:
    """A submission's report: the sum of its exercises, and what graded it."""

    score: float
    max_score: float
    exercises: list  # ExerciseResult
    seed: int
    submission: str
    grader_version: str
    torch_version: str
    cuda: bool
    extra: dict = field(default_factory=dict)

    REQUIRED = ("score", "max_score", "exercises", "seed", "submission", "grader_version", "torch_version",
                "cuda")

    def to_dict(self) -> dict:
        return _as_dict(self, self.REQUIRED, (),
                        lambda key, v: [e.to_dict() for e in v] if key == "exercises" else v)

    @classmethod
    def from_dict(cls, data: dict) -> Report:
        kwargs = _kwargs(cls, data)
        kwargs["exercises"] = [ExerciseResult.from_dict(e) for e in kwargs.get("exercises", [])]
        return cls(**kwargs)
