"""Run the hidden suites for a submission and build the report (plain data)."""
from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from grader import __version__
from grader.exercises import EXERCISES, POINTS_PER_EXERCISE
from grader.harness.pytest_caches import cached_hookproxies, memoized_funcargnames

SUITES_DIR = Path(__file__).resolve().parents[1] / "suites"


def build_report(exercises, plugin, submission: Path, seed: int, cuda: bool) -> dict:
    """The report: each test's fixed points (grader.harness.points) as its max_score, earned when it
    passed (or could not be judged: skipped); an exercise's score is the sum of its tests'."""
    by_ex: dict = {ex.name: [] for ex in exercises}
    for rec in plugin.records.values():
        by_ex.setdefault(rec["exercise"], []).append(rec)
    out = []
    for ex in exercises:
        recs = by_ex.get(ex.name, [])
        tests, earned = [], 0.0
        for r in recs:
            got = r["points"] if r["status"] in ("passed", "skipped") else 0.0
            earned += got
            t = {"name": r["name"], "description": r["description"], "status": r["status"],
                 "score": round(got, 4), "max_score": round(r["points"], 4), "message": r["message"],
                 "hint": r["hint"], "visible": r["visible"]}
            for extra in ("kind", "trace", "reproducer", "devices"):
                if extra in r:
                    t[extra] = r[extra]
            tests.append(t)
        info = plugin.exercise_info.get(ex.name, {})
        entry = {"name": ex.name, "title": ex.title, "file": ex.file,
                 "score": round(earned, 2),
                 "max_score": POINTS_PER_EXERCISE,
                 "status": info.get("status", "graded"),
                 "message": info.get("message", ""), "hint": info.get("hint", "") or "",
                 "tests": tests}
        if info.get("review"):
            entry["review"] = info["review"]
        errors = [e for e in plugin.collect_errors if ex.suite in e[0]]
        if errors or not recs:
            entry.update(status="error", score=0.0,
                         message="internal grader error: this exercise's tests could not be run; "
                                 "it is not your fault, please report it")
            if plugin.debug and errors:
                entry["trace"] = errors[0][1]
        out.append(entry)
    score = round(sum(e["score"] for e in out), 2)
    import torch

    from grader.feedback.textsafe import clip_report

    return clip_report({"score": score, "max_score": POINTS_PER_EXERCISE * len(out), "exercises": out,
            "seed": seed, "submission": str(submission), "grader_version": __version__,
            "torch_version": torch.__version__, "cuda": cuda})  # no field longer than MAX_FIELD


@dataclasses.dataclass
class Job:
    """One submission to grade.  ``zygote`` may be swapped between attempts."""
    submission: Path
    seed: int = 0
    zygote: object = None
    extra: dict = dataclasses.field(default_factory=dict)


class _Loop:
    """Runs the collected items once per job, all in one pytest session, so
    that configuration, collection and fixture discovery happen once for a
    whole batch rather than once per student."""

    def __init__(self, exercises, plugin, next_job, on_report, tmpbase):
        self.exercises = exercises
        self.plugin = plugin
        self.next_job = next_job
        self.on_report = on_report
        self.tmpbase = tmpbase
        self.looped = False

    def pytest_configure(self, config):
        if not getattr(config.option, "tbstyle", None):
            # without the terminal plugin nobody reads pytest's tracebacks, but pytest would
            # still format every failure's, parsing the suite's source (0.3 s a failure)
            config.option.tbstyle = "no"

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        self.looped = True
        items, skipped = [], {}
        for item in session.items:
            reason = _skipped_before_running(item)
            if reason is None:
                items.append(item)
            else:
                skipped[item.nodeid] = reason
        following = {a.nodeid: b for a, b in zip(items, items[1:] + [None])}
        with cached_hookproxies(session):
            self._run_jobs(session, skipped, following)
        return True

    def _run_jobs(self, session, skipped, following):
        import random

        import torch

        hook = session.config.hook
        for job in iter(self.next_job, None):
            while True:
                tmproot = Path(tempfile.mkdtemp(prefix="grader-run-", dir=self.tmpbase))
                self.plugin.start_job(job.submission, job.zygote, job.seed, tmproot)
                random.seed(job.seed)
                torch.default_generator.manual_seed(job.seed)
                try:
                    for item in session.items:  # in order, so that the report lists tests as the suites do
                        if item.nodeid in skipped:
                            self.plugin.record_skipped(item, skipped[item.nodeid])
                        else:
                            hook.pytest_runtest_protocol(item=item, nextitem=following[item.nodeid])
                finally:
                    shutil.rmtree(tmproot, ignore_errors=True)
                report = build_report(self.exercises, self.plugin, job.submission, job.seed,
                                      torch.cuda.is_available())
                job.extra["spend"] = self.plugin.spend  # what it cost (a batch's state row records it)
                if not self.on_report(job, report):
                    break

    def pytest_sessionfinish(self, session):
        if not self.looped:  # pytest stopped before running tests: each exercise's report says so
            session.items = []
            self.pytest_runtestloop(session)


def _skipped_before_running(item):
    """The reason, if a skip marker whose condition is a plain True skips this
    item: such items need no run at all."""
    for mark in item.iter_markers("skipif"):
        if mark.args and mark.args[0] is True:
            return mark.kwargs.get("reason", "skipped")
    return None


# Built-in plugins the suites do without: each costs hook calls for every item.
# The suites use only the fixtures `student` and `rng` (grader.harness.plugin), `pytest.skip`
# and the markers points, visible, skipif and parametrize; `-s` needs capture.
UNUSED_PLUGINS = ("cacheprovider", "warnings", "logging", "unraisableexception", "threadexception",
                  "faulthandler", "unittest", "tmpdir", "legacypath", "setuponly", "setupplan", "junitxml",
                  "doctest", "pastebin", "stepwise", "subtests", "debugging", "monkeypatch", "recwarn")


def pytest_args(exercises, debug: bool) -> list:
    args = [str(SUITES_DIR / ex.suite) for ex in exercises]
    args += ["-c", str(SUITES_DIR / "pytest.ini"), "--rootdir", str(SUITES_DIR), "-s", "-p", "pytest_timeout"]
    for name in UNUSED_PLUGINS:
        args += ["-p", "no:" + name]
    args += ["-v", "--tb=short"] if debug else ["-p", "no:terminal"]
    return args


def serve(exercises, next_job, on_report, *, limits=None, debug: bool = False, progress=None) -> None:
    """Grade job after job: ``next_job()`` gives a Job (None to stop) and
    ``on_report(job, report)`` takes each report, returning True to grade the
    same job again (say, after it replaced a zygote the submission killed).
    The suites are collected once, in one pytest session, for all jobs."""
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    import torch

    from grader.harness.plugin import GraderPlugin
    from grader.transport.limits import Limits

    torch.set_num_threads(1)  # small tensors: threads cost more than they give, and results stay reproducible
    tmpbase = tempfile.mkdtemp(prefix="grader-")
    plugin = GraderPlugin(Path("."), None, limits or Limits(), 0, Path(tmpbase), debug=debug, progress=progress)
    loop = _Loop(list(exercises), plugin, next_job, on_report, tmpbase)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf), memoized_funcargnames():
            pytest.main(pytest_args(exercises, debug), plugins=[plugin, loop])
    finally:
        shutil.rmtree(tmpbase, ignore_errors=True)
        if debug:
            print(buf.getvalue())


def grade(exercises=EXERCISES, submission: Path = Path("exercises"), *, seed: int = 0, limits=None,
          zygote=None, debug: bool = False, progress=None) -> dict:
    """Grade ``exercises`` of the submission folder; returns the report dict."""
    from grader.exercises import wants_preload
    from grader.transport.processes import Zygote

    own = zygote is None
    zygote = zygote or Zygote(preload=wants_preload(exercises))
    jobs = iter([Job(Path(submission), seed, zygote)])
    reports = []
    try:
        serve(exercises, lambda: next(jobs, None), lambda job, report: reports.append(report),
              limits=limits, debug=debug, progress=progress)
    finally:
        if own:
            zygote.close()
    return reports[0]
