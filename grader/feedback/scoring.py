"""The scoring rule: from the tests' records to the report.

- A test's ``max_score`` is its fixed points (``grader.harness.points``: whole hundredths);
  it earns them when it passed, or when it could not be judged (skipped: a reason of the
  grader's, never held against the student); failed and error earn 0.
- An exercise's score is the sum of its tests' points earned, out of its points
  (``Exercise.points``): whole hundredths, so exact (``round`` only removes the float error).
- An exercise whose suite had collection errors, or that has no test records at all, is an
  internal error: score 0, status ``error``, a message saying it is not the student's fault
  (with ``--debug``, the first collection error's text as its ``trace``).
- The report's score is the sum of its exercises' (whole hundredths, exact).
"""

from __future__ import annotations

from pathlib import Path

from grader.exercises import total_points
from grader.feedback.records import (
    ExerciseResult,
    ExerciseRun,
    ExerciseStatus,
    Report,
    TestRecord,
    TestResult,
    TestStatus,
)
from grader.feedback.textsafe import clip_report

EARNING = (TestStatus.PASSED, TestStatus.SKIPPED)  # statuses that earn a test's points
INTERNAL_ERROR = "internal grader error: this exercise's tests could not be run; it is not your fault, please report it"


def earned(rec: TestRecord) -> float:
    return rec.points if rec.status in EARNING else 0.0


def score_test(rec: TestRecord) -> TestResult:
    return TestResult(
        name=rec.name,
        description=rec.description,
        status=rec.status,
        score=round(earned(rec), 2),
        max_score=round(rec.points, 2),
        message=rec.message,
        hint=rec.hint,
        visible=rec.visible,
        kind=rec.kind,
        trace=rec.trace,
        reproducer=rec.reproducer,
        devices=rec.devices,
    )


def score_exercise(
    ex, records: list, run: ExerciseRun | None, errors: list, debug: bool = False, points: float | None = None
) -> ExerciseResult:
    """``ex``'s result (an ``grader.exercises.Exercise``) from its tests' records in suite
    order; ``errors``: its suite's collection errors, ``(node id, text)``."""
    run = run or ExerciseRun()
    points = ex.points if points is None else points
    total = 0.0
    for rec in records:
        total += earned(rec)
    result = ExerciseResult(
        name=ex.name,
        title=ex.title,
        file=ex.file,
        score=round(total, 2),
        max_score=points,
        status=run.status,
        message=run.message,
        hint=run.hint or "",
        tests=[score_test(rec) for rec in records],
        review=list(run.review) or None,
    )
    if errors or not records:
        result.status, result.score, result.message = ExerciseStatus.ERROR, 0.0, INTERNAL_ERROR
        if debug and errors:
            result.trace = errors[0][1]
    return result


def build_report(
    exercises,
    records,
    runs: dict,
    collect_errors: list,
    *,
    submission: Path,
    seed: int,
    cuda: bool,
    grader_version: str,
    torch_version: str,
    debug: bool = False,
) -> Report:
    """The report of one submission: ``records`` its tests' ``TestRecord`` in the order they
    ran; ``runs`` {exercise name: ExerciseRun}; ``collect_errors`` [(node id, text)] of the
    whole session (an exercise's are those naming its suite)."""
    by_ex: dict = {ex.name: [] for ex in exercises}
    for rec in records:
        by_ex.setdefault(rec.exercise, []).append(rec)
    out = [
        score_exercise(
            ex, by_ex.get(ex.name, []), runs.get(ex.name), [e for e in collect_errors if ex.suite in e[0]], debug
        )
        for ex in exercises
    ]
    return Report(
        score=round(sum(e.score for e in out), 2),
        max_score=total_points(exercises),
        exercises=out,
        seed=seed,
        submission=str(submission),
        grader_version=grader_version,
        torch_version=torch_version,
        cuda=cuda,
    )


def report_data(report: Report) -> dict:
    """The report as the formats, the batch and the platforms read it: its JSON data, every
    string clipped to ``MAX_FIELD`` characters."""
    return clip_report(report.to_dict())
