"""PrairieLearn external grader ``results.json`` (PrairieLearn docs/externalGrading.md).

``gradable`` (false: the submission could not be read; no score, attempt not
charged, ``format_errors`` says why), ``score`` in [0, 1], ``message``,
``output``, and ``tests`` with ``name``, ``description``, ``points``,
``max_points``, ``message``, ``output``.  Every test carries both points
fields (without them PrairieLearn drops the point badges of all tests).
The file must stay under 1 MB: long messages are cut.
"""

from __future__ import annotations

import json

from grader.feedback.numbers import points_text
from grader.feedback.records import Report, TestStatus
from grader.feedback.textsafe import escape_controls
from grader.formats.common import explanation, first_line, for_platform, not_gradable, notes, tests

LIMIT = 900_000  # bytes, under PrairieLearn's 1 MB


def results(report: Report | dict) -> dict:
    report = for_platform(report)
    reasons = not_gradable(report)
    if reasons:
        return {
            "gradable": False,
            "format_errors": reasons,
            "message": "Your submission could not be graded: " + reasons[0],
        }
    out_tests = []
    for ex, t, _ in tests(report):
        passed = t.status == TestStatus.PASSED
        out_tests.append(
            {
                "name": f"{ex.name}: {escape_controls(t.name)}",
                "description": escape_controls(t.description),
                "points": float(t.score),
                "max_points": float(t.max_score),
                "message": "" if passed else first_line(t.message, 500),
                "output": "" if passed else explanation(t),
            }
        )
    mx = float(report.max_score)
    lines = [
        f"{ex.name} ({escape_controls(ex.title)}): {points_text(ex.score)} / {ex.max_score:g}"
        for ex in report.exercises
    ]
    lines += [f"Note: {n}" for n in notes(report)]
    doc = {
        "gradable": True,
        "score": min(1.0, max(0.0, report.score / mx)) if mx else 0.0,
        "message": f"Total: {points_text(report.score)} / {mx:g}",
        "output": "\n".join(lines),
        "tests": out_tests,
    }
    if len(json.dumps(doc).encode()) > LIMIT:  # keep every test and its points; cut the long texts
        for t in out_tests:
            t["output"] = t["output"][:300]
    return doc


def failure_results(message: str) -> dict:
    """results.json when the grading itself failed: not gradable (no score, the attempt is
    not charged), with the reason.  ``grade`` exits 3 then, so PrairieLearn reports a grading
    failure; the file is what an instructor finds in the job's results."""
    text = escape_controls(message)
    return {"gradable": False, "succeeded": False, "grading_failed": True, "message": text, "format_errors": [text]}


def render(report: Report | dict, **_) -> str:
    return json.dumps(results(report), indent=1, ensure_ascii=False) + "\n"
