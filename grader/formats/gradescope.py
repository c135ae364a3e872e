"""Gradescope: ``results.json`` from a report, and the autograder bundle.

Field list (gradescope/autograder_samples docs/specs.md, "Output format"):
top level ``score``, ``execution_time`` (s), ``output``, ``output_format``,
``test_output_format``, ``visibility``, ``stdout_visibility``, ``extra_data``,
``tests``; per test ``score``, ``max_score``, ``status`` (passed|failed),
``name``, ``number``, ``output``, ``output_format``, ``tags``, ``visibility``,
``extra_data``.  Format values: text, html, simple_format, md, ansi.
Visibility values: hidden, after_due_date, after_published, visible.
"""

from __future__ import annotations

import json

from grader.feedback.numbers import points_text
from grader.feedback.records import ExerciseStatus, Report, TestStatus
from grader.feedback.textsafe import escape_controls, md_fence, md_text
from grader.formats.common import explanation, first_line, for_platform, tests

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
GRADESCOPE_STATUS = {True: "passed", False: "failed"}  # Gradescope's own two words (its specs.md)


def results(
    report: Report | dict,
    *,
    hidden_visibility: str = "after_published",
    execution_time=None,
    stdout_visibility: str = "hidden",
) -> dict:
    """The results.json document for ``report``.  Visible tests are ``visible``;
    hidden ones ``hidden_visibility``.  The grader's own stdout (which may hold
    what the student's code printed) stays with the instructors by default."""
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {', '.join(VISIBILITIES)}")
    report = for_platform(report)
    out_tests = []
    for ex, t, number in tests(report):
        passed = t.status == TestStatus.PASSED
        if passed:
            body = f"Passed: {md_text(t.description or t.name)}"
        else:
            body = f"**{md_text(t.description or t.name)}**\n\n{md_fence(explanation(t), 'text')}"
        out_tests.append(
            {
                "name": f"{ex.name} · {escape_controls(t.name)}",
                "number": number,
                "score": float(t.score),
                "max_score": float(t.max_score),
                "status": GRADESCOPE_STATUS[passed],
                "output": body,
                "output_format": "md",
                "tags": [ex.name],
                "visibility": "visible" if t.visible else hidden_visibility,
            }
        )
    lines = [f"**Total: {points_text(report.score)} / {report.max_score:g}**", ""]
    lines += [f"> **Note:** {md_text(str(n))}\n" for n in report.extra.get("notes") or []]
    for ex in report.exercises:
        line = f"- {ex.name} ({md_text(ex.title)}): {points_text(ex.score)} / {ex.max_score:g}"
        if ex.status != ExerciseStatus.GRADED:
            line += " — " + md_text(first_line(ex.message, 300))
        lines.append(line)
    skipped = sum(1 for _, t, _ in tests(report, skipped=True) if t.status == TestStatus.SKIPPED)
    if skipped:
        lines += [
            "",
            f"{skipped} test{'s' if skipped > 1 else ''} not checked (points kept): the grader could not run {'them' if skipped > 1 else 'it'} here.",
        ]
    doc = {
        "score": float(report.score),
        "output": "\n".join(lines),
        "output_format": "md",
        "stdout_visibility": stdout_visibility,
        "tests": out_tests,
        "extra_data": {
            "max_score": float(report.max_score),
            "seed": report.seed,
            "grader_version": report.grader_version,
        },
    }
    if execution_time is not None:
        doc["execution_time"] = int(round(execution_time))
    return doc


def failure_results(message: str, max_score: float = 0.0, execution_time=None, grader_failed: bool = True) -> dict:
    """A valid results.json when nothing could be graded: the submission held nothing to
    grade, or (``grader_failed``) the grading itself failed.  Gradescope's format has no
    "not graded" state and needs a ``score``: it is 0, the ``output`` says why, and
    ``extra_data.grader_failed`` marks a failure to grade for the instructor."""
    doc = {
        "score": 0.0,
        "output": escape_controls(message),
        "output_format": "text",
        "stdout_visibility": "hidden",
        "tests": [],
        "extra_data": {"max_score": float(max_score), "grader_failed": grader_failed},
    }
    if execution_time is not None:
        doc["execution_time"] = int(round(execution_time))
    return doc


def render(report: Report | dict, prefix: str = "", **options) -> str:
    return json.dumps(results(report, **options), indent=1, ensure_ascii=False) + "\n"
