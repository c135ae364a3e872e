"""Run the hidden suites for a submission and build the report (its records, grader.feedback.records)."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from grader import __version__
from grader.course import current
from grader.feedback import scoring
from grader.harness.pytest_caches import cached_hookproxies, memoized_funcargnames

if TYPE_CHECKING:
    from grader.feedback.records import Report

SUITES_DIR = Path(__file__).resolve().parents[1] / "suites"  # the built-in course's suites, and pytest.ini


def suite_path(exercise) -> Path:
    """The hidden suite of ``exercise`` in the course in use (grader.course)."""
    return current().suite_path(exercise)


def job_report(exercises, plugin, submission: Path, seed: int, cuda: bool) -> dict:
    """The report of the job the plugin just ran (grader.feedback.scoring), as JSON data."""
    import torch

    report = scoring.build_report(
        exercises,
        plugin.records.values(),
        plugin.exercise_info,
        plugin.collect_errors,
        submission=submission,
        seed=seed,
        cuda=cuda,
        grader_version=__version__,
        torch_version=torch.__version__,
        debug=plugin.debug,
    )
    data = scoring.report_data(report)
    notes = [output_note(name, run.output_cut) for name, run in plugin.exercise_info.items() if run.output_cut]
    if notes:
        data["notes"] = list(data.get("notes", [])) + notes
    return data


def output_note(exercise: str, cut: int) -> str:
    """The report's note on printed output past the cap (grader.untrusted.output): no test failed for it."""
    from grader.untrusted.output import HEAD, TAIL

    # no byte count: a loop stopped by its time limit prints a different amount each run
    return (
        f"{exercise}: your code printed more than the grader keeps (its first {HEAD >> 20} MB); the rest was "
        f"cut, its last {TAIL >> 10} KB kept. Printing costs no points, but it slows the tests down: remove "
        "debug prints from loops."
    )


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

        from grader.transport.processes import asked_once

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
                report = job_report(
                    self.exercises, self.plugin, job.submission, job.seed, asked_once(torch.cuda.is_available)
                )
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
UNUSED_PLUGINS = (
    "cacheprovider",
    "warnings",
    "logging",
    "unraisableexception",
    "threadexception",
    "faulthandler",
    "unittest",
    "tmpdir",
    "legacypath",
    "setuponly",
    "setupplan",
    "junitxml",
    "doctest",
    "pastebin",
    "stepwise",
    "subtests",
    "debugging",
    "monkeypatch",
    "recwarn",
)


def pytest_args(exercises, debug: bool) -> list:
    args = [str(suite_path(ex)) for ex in exercises]
    args += [
        "-c",
        str(SUITES_DIR / "pytest.ini"),
        "--rootdir",
        str(current().suite_root()),
        "-s",
        "-p",
        "pytest_timeout",
    ]
    for name in UNUSED_PLUGINS:
        args += ["-p", "no:" + name]
    args += ["-v", "--tb=short"] if debug else ["-p", "no:terminal"]
    return args


def serve(
    exercises, next_job, on_report, *, limits=None, debug: bool = False, progress=None, author: bool = False
) -> None:
    """Grade job after job: ``next_job()`` gives a Job (None to stop) and
    ``on_report(job, report)`` takes each report, returning True to grade the
    same job again (say, after it replaced a zygote the submission killed).
    The suites are collected once, in one pytest session, for all jobs.  ``author``: the course's
    author grades (grade check-course), so a test the suite itself breaks keeps its traceback
    (the record's ``trace``, as with ``debug``), which a student's report never holds."""
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    import torch

    from grader.harness.plugin import GraderPlugin
    from grader.transport.limits import Limits

    torch.set_num_threads(1)  # small tensors: threads cost more than they give, and results stay reproducible
    tmpbase = tempfile.mkdtemp(prefix="grader-")
    plugin = GraderPlugin(
        Path("."), None, limits or Limits(), 0, Path(tmpbase), debug=debug, progress=progress, author=author
    )
    loop = _Loop(list(exercises), plugin, next_job, on_report, tmpbase)
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf), memoized_funcargnames():
            pytest.main(pytest_args(exercises, debug), plugins=[plugin, loop])
    finally:
        shutil.rmtree(tmpbase, ignore_errors=True)
        if debug:
            print(buf.getvalue())


def grade(
    exercises=None,
    submission: Path = Path("exercises"),
    *,
    seed: int = 0,
    limits=None,
    zygote=None,
    debug: bool = False,
    progress=None,
    author: bool = False,
) -> Report:
    """Grade ``exercises`` (by default every exercise of the course) of the submission folder;
    returns the report (its records: the grading process hands its JSON data over, read into a
    ``Report`` here, once)."""
    from grader.exercises import wants_preload
    from grader.feedback import failure
    from grader.feedback.records import Report
    from grader.transport.processes import Zygote

    exercises = current().exercises if exercises is None else exercises
    own = zygote is None
    zygote = zygote or Zygote(preload=wants_preload(exercises))
    jobs = iter([Job(Path(submission), seed, zygote)])
    reports = []
    oom_before = failure.oom_kills()
    try:
        serve(
            exercises,
            lambda: next(jobs, None),
            lambda job, report: reports.append(report),
            limits=limits,
            debug=debug,
            progress=progress,
            author=author,
        )
        report = Report.from_dict(reports[0])
        death = _zygote_death(zygote, wait=bool(failure.internal_errors(report)))
        if death:  # every verdict since may be its doing (a worker dies with it): none is a grade
            report.extra["grading_failed"] = failure.why(death, failure.internal_errors(report), oom_before)
    finally:
        if own:
            zygote.close()
    return report


def _zygote_death(zygote, wait: bool) -> str | None:
    """How the zygote ended, if it has (``wait``: give a kill under way a moment to land)."""
    import time

    from grader.feedback.failure import process_death

    proc = getattr(zygote, "proc", None)
    if proc is None:
        return None
    deadline = time.monotonic() + (1.0 if wait else 0.0)
    while True:
        code = proc.poll()
        if code is not None or time.monotonic() >= deadline:
            return process_death(code)
        time.sleep(0.05)
