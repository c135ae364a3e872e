"""The pytest plugin that runs the hidden suites and records the verdicts.

It gives the suites their fixtures (``student``: the submission's file for
that suite's exercise, behind the trust boundary; ``rng``: a generator seeded
from the run's seed and the test's id) and turns each test's outcome into a
plain record: status, weight, message and hint.  Nothing from a test's source
or traceback reaches a record unless ``debug`` is on.
"""
from __future__ import annotations

import hashlib
import traceback
from pathlib import Path

import pytest
import torch

from grader.checks import Failure
from grader.exercises import for_suite
from grader.sandbox import Student, StudentError


def derive_seed(seed: int, text: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}|{text}".encode()).digest()[:6], "big")


def _doc(item) -> str:
    fn = getattr(item, "function", None)
    doc = (getattr(fn, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


class GraderPlugin:
    def __init__(self, submission: Path, zygote, limits, seed: int, tmproot: Path,
                 debug: bool = False, progress=None):
        self.submission = Path(submission)
        self.zygote = zygote
        self.limits = limits
        self.seed = seed
        self.tmproot = Path(tmproot)
        self.debug = debug
        self.progress = progress
        self.records: dict = {}
        self.exercise_info: dict = {}
        self.collect_errors: list = []

    # -- fixtures ------------------------------------------------------------------
    @pytest.fixture(scope="module")
    def _student_session(self, request):
        ex = for_suite(Path(request.module.__file__).name)
        s = Student(ex, self.submission, self.zygote, self.limits, self.tmproot / ex.name, self.seed)
        if self.progress:
            self.progress("start", ex)
        yield s
        s.close()
        info = {"elapsed": round(s.elapsed, 3), "restarts": max(0, s.restarts - 1), "timeouts": s.timeouts}
        if s.load_error is not None:
            info["status"] = "missing" if s.load_error.kind == "missing_file" else "load_error"
            info["message"] = s.load_error.message
            info["hint"] = s.load_error.hint
        self.exercise_info[ex.name] = info
        if self.progress:
            self.progress("done", ex)

    @pytest.fixture
    def student(self, _student_session, request) -> Student:
        _student_session.begin_test(request.node.nodeid.split("::", 1)[-1])
        return _student_session

    @pytest.fixture
    def rng(self, request) -> torch.Generator:
        g = torch.Generator()
        g.manual_seed(derive_seed(self.seed, request.node.nodeid.split("::", 1)[-1]))
        return g

    # -- hooks -------------------------------------------------------------------------
    def pytest_configure(self, config):
        config.addinivalue_line("markers", "weight(w): this test's share of the exercise's points")
        config.addinivalue_line("markers", "visible: a test whose input the student may see in full")

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append((report.nodeid, str(report.longrepr)))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        ex = for_suite(Path(str(item.fspath)).name)
        rec = self.records.get(item.nodeid)
        if rec is None:
            marker = item.get_closest_marker("weight")
            rec = {"exercise": ex.name, "name": item.name, "description": _doc(item),
                   "weight": float(marker.args[0]) if marker else 1.0,
                   "visible": item.get_closest_marker("visible") is not None,
                   "status": "passed", "message": "", "hint": ""}
            self.records[item.nodeid] = rec
        if rep.skipped:
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
            rec.update(status="skipped", message=reason.removeprefix("Skipped: "))
            return
        if rep.passed or rec["status"] != "passed":
            return
        if call.when == "teardown":
            return
        exc = call.excinfo.value if call.excinfo else None
        if isinstance(exc, Failure):
            rec.update(status="failed", message=exc.message, hint=exc.hint or "")
        elif isinstance(exc, StudentError):
            status = "error" if exc.kind in StudentError.RUN_KINDS else "failed"
            rec.update(status=status, message=exc.message, hint=exc.hint or "", kind=exc.kind)
        else:
            name = type(exc).__name__ if exc else "error"
            rec.update(status="error", kind="internal",
                       message=f"internal grader error ({name}); this is not your fault, please report it",
                       hint="")
            if self.debug and call.excinfo is not None:
                rec["trace"] = "".join(traceback.format_exception(call.excinfo.value))
