"""The pytest plugin that runs the hidden suites and records the verdicts.

It gives the suites their fixtures (``student``: the submission's file for
that suite's exercise, behind the trust boundary; ``rng``: a generator seeded
from the run's seed and the test's id) and turns each test's outcome into a
record (``grader.feedback.records.TestRecord``: status, points (grader.harness.points),
message and hint) and each exercise's run into an ``ExerciseRun``; the report is scored
from them (``grader.feedback.scoring``).  Nothing from a test's source or traceback
reaches a record unless ``debug`` is on.

A failed test marked ``visible`` (its input may be shown in full) ends its
message with a reproducer (``grader.feedback.reproducers``): a short script that
repeats the failing call on the student's machine.  Hidden tests never get one.
"""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest
import torch

from grader.errors import ErrorKind
from grader.exercises import for_suite
from grader.feedback.records import ExerciseRun, ExerciseStatus, TestRecord, TestStatus
from grader.feedback.reproducers import reproducer
from grader.harness.points import derive_seed, item_points, run_on_devices
from grader.transport.limits import Spend
from grader.transport.student import Student, StudentError
from grader.verdicts import integrity
from grader.verdicts.checks import Failure
from grader.verdicts.hints import at_level, unexplained_hint
from grader.verdicts.rules import Rules


def _doc(item) -> str:
    fn = getattr(item, "function", None)
    doc = (getattr(fn, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


_PLUGIN = pytest.StashKey()


class GraderPlugin:
    def __init__(
        self,
        submission: Path,
        zygote,
        limits,
        seed: int,
        tmproot: Path,
        debug: bool = False,
        progress=None,
        author: bool = False,
    ):
        self.submission = Path(submission)
        self.zygote = zygote
        self.limits = limits
        self.seed = seed
        self.tmproot = Path(tmproot)
        self.debug = debug
        self.author = author  # the course's author grades (grade check-course): a suite's own error keeps its trace
        self.progress = progress
        self.records: dict = {}  # node id → TestRecord, in the order the tests ran
        self.exercise_info: dict = {}  # exercise name → ExerciseRun
        self.collect_errors: list = []
        self._static: dict = {}
        self.spend = Spend()

    def start_job(self, submission: Path, zygote, seed: int, tmproot: Path) -> None:
        """Forget the last submission's verdicts; the next run grades this one."""
        self.submission = Path(submission)
        self.zygote = zygote
        self.seed = seed
        self.tmproot = Path(tmproot)
        self.records = {}
        self.exercise_info = {}
        self.spend = Spend()  # what this submission has cost, all exercises together

    def record(self, item) -> TestRecord:
        """The item's record in this job (what it is, from a cache kept across jobs)."""
        rec = self.records.get(item.nodeid)
        if rec is None:
            static = self._static.get(item.nodeid)
            if static is None:
                static = self._static[item.nodeid] = {
                    "exercise": for_suite(item.path.name).name,
                    "name": item.name,
                    "description": _doc(item),
                    "points": item_points(item),
                    "visible": item.get_closest_marker("visible") is not None,
                }
            rec = self.records[item.nodeid] = TestRecord(**static)
        return rec

    def _void(self, ex, err) -> None:
        """Fail closed: every test of ``ex`` that earned its points loses them to ``err``
        (the grader's hooks in its worker were tampered with, so nothing it returned counts)."""
        for rec in self.records.values():
            if rec.exercise == ex.name and rec.status in (TestStatus.PASSED, TestStatus.SKIPPED):
                rec.status, rec.message, rec.hint, rec.kind = TestStatus.FAILED, err.message, err.hint or "", err.kind

    def record_skipped(self, item, reason: str) -> None:
        """A test known to be skipped before it runs (a skipif(True) marker)."""
        rec = self.record(item)
        rec.status, rec.message = TestStatus.SKIPPED, reason

    # -- fixtures ------------------------------------------------------------------
    # A fixture wider than a function must not be a bound method (deprecated by pytest 9.1):
    # this one is static and finds its plugin in the config's stash.
    @pytest.fixture(scope="module")
    @staticmethod
    def _student_session(request):
        self = request.config.stash[_PLUGIN]
        ex = for_suite(Path(request.module.__file__).name)
        s = Student(
            ex, self.submission, self.zygote, self.limits, self.tmproot / ex.name, self.seed, self.spend, rules=Rules()
        )
        if self.progress:
            self.progress("start", ex)
        yield s
        s.close()
        info = ExerciseRun(
            elapsed=round(s.elapsed, 3),
            restarts=max(0, s.restarts - 1),
            timeouts=s.timeouts,
            review=list(s.review),
            output_cut=getattr(s, "output_cut", 0),
        )  # what the integrity scan flagged, what the scans could not walk
        if s.load_error is not None:
            info.status = (
                ExerciseStatus.MISSING if s.load_error.kind == ErrorKind.MISSING_FILE else ExerciseStatus.LOAD_ERROR
            )
            info.message, info.hint = s.load_error.message, s.load_error.hint
        if s.tampered is not None:  # fail closed: no test of this exercise keeps its points
            self._void(ex, integrity.tampered_error(s.tampered))
        self.exercise_info[ex.name] = info
        if self.progress:
            self.progress("done", ex)

    @pytest.fixture
    def student(self, _student_session, request) -> Student:
        # only a visible test's requests are kept: nothing else ever gets a reproducer
        _student_session.begin_test(request.node.nodeid.split("::", 1)[-1], trace=self.record(request.node).visible)
        return _student_session

    @pytest.fixture
    def rng(self, request) -> torch.Generator:
        g = torch.Generator()
        g.manual_seed(derive_seed(self.seed, request.node.nodeid.split("::", 1)[-1]))
        return g

    @pytest.fixture
    def device(self) -> str:
        return "cpu"  # and then each other device: see pytest_pyfunc_call

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem):
        """A test that takes ``device`` runs once per device (grader.suites.common.devices),
        on the same inputs: one verdict, failed if it fails on any of them."""
        return run_on_devices(pyfuncitem, self.record(pyfuncitem), self.seed)

    # -- hooks -------------------------------------------------------------------------
    def pytest_configure(self, config):
        config.stash[_PLUGIN] = self
        config.addinivalue_line("markers", "points(p): this test function's points (an exercise's sum to 10)")
        config.addinivalue_line("markers", "visible: a test whose input the student may see in full")

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append((report.nodeid, str(report.longrepr)))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        rec = self.record(item)
        if rep.skipped:
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
            rec.status, rec.message = TestStatus.SKIPPED, reason.removeprefix("Skipped: ")
            return
        if rep.passed or rec.status != TestStatus.PASSED:
            return
        if call.when == "teardown":
            return
        exc = call.excinfo.value if call.excinfo else None
        if isinstance(exc, Failure):
            rec.status, rec.message, rec.hint = TestStatus.FAILED, exc.message, exc.hint or ""
        elif isinstance(exc, StudentError):
            rec.status = TestStatus.ERROR if exc.kind in StudentError.RUN_KINDS else TestStatus.FAILED
            rec.message, rec.hint, rec.kind = exc.message, exc.hint or "", exc.kind
        else:
            name = type(exc).__name__ if exc else "error"
            rec.status, rec.kind, rec.hint = TestStatus.ERROR, ErrorKind.INTERNAL, ""
            rec.message = f"internal grader error ({name}); this is not your fault, please report it"
            if (self.debug or self.author) and call.excinfo is not None:
                rec.trace = "".join(traceback.format_exception(call.excinfo.value))
        if not (rec.hint or "").strip():
            rec.hint = unexplained_hint(rec.status, rec.kind, rec.message)
        rec.hint = at_level(rec.hint)
        if rec.failed_on not in (None, "cpu") and call.when == "call":  # right on the CPU, wrong on the GPU
            rec.message = f"on the GPU ({rec.failed_on}): {rec.message}"
        if rec.visible and rec.status == TestStatus.FAILED and call.when == "call":
            self._add_reproducer(item, rec, exc)

    def _add_reproducer(self, item, rec: TestRecord, exc) -> None:
        """Give a failed visible test its reproducer, when there is one."""
        student = (getattr(item, "funcargs", None) or {}).get("student")
        if isinstance(student, Student) and student.test_id == item.nodeid.split("::", 1)[-1]:
            try:
                code = reproducer(student.trace, exc, Path(student.file).stem)
            except Exception:  # a reproducer is a courtesy: never let it cost the verdict
                if self.debug:
                    raise
                code = None
            if code:
                rec.reproducer = code
