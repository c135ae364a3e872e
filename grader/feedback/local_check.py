"""What the student edition's own check says: what it ran, never a grade.

The student edition runs the visible tests (and the checks that need no answer); the hidden
tests decide the grade.  Its points would be the visible checks rescaled to the exercise's
points, a number the grader would not give, so a local report counts checks instead:
"3 of 3 visible checks passed; the hidden tests decide the grade", in every format it
renders (text, JSON, HTML, Markdown: ``view``), and its exit status says whether every check
that ran passed (``all_passed``)."""

from __future__ import annotations

from grader.feedback.records import ExerciseStatus, Report, TestStatus

DECIDE = "the hidden tests decide the grade"
SCORE_KEYS = ("score", "max_score")
NOT_CHECKED = {
    ExerciseStatus.MISSING: "its file is missing",
    ExerciseStatus.LOAD_ERROR: "it does not load",
    ExerciseStatus.ERROR: "the grader failed",
}
CHECKED = (None, ExerciseStatus.GRADED)  # an exercise whose checks ran (None: a report of before statuses)


def is_local(report: Report | dict) -> bool:
    """A report of the student edition (its records, or its JSON data)."""
    return (report.extra if isinstance(report, Report) else report).get("edition") == "student"


def _counts(tests) -> tuple:
    ran = [t for t in tests if t.get("status") != TestStatus.SKIPPED]
    return sum(t.get("status") == TestStatus.PASSED for t in ran), len(ran)


def sentence(passed: int, ran: int) -> str:
    return f"{passed} of {ran} visible check{'s' if ran != 1 else ''} passed; {DECIDE}"


def summarize(report: dict) -> dict:
    """Add each exercise's and the report's check counts and sentence (``checks``, ``summary``)."""
    total_passed = total_ran = 0
    for ex in report.get("exercises", []):
        passed, ran = _counts(ex.get("tests", []))
        if ex.get("status") not in CHECKED:
            passed = 0  # a file that is missing or does not load passes nothing
        ex["checks"] = {"passed": passed, "ran": ran}
        ex["summary"] = (
            sentence(passed, ran)
            if ex.get("status") in CHECKED
            else f"not checked: {NOT_CHECKED.get(ex.get('status'), 'see below')}; {DECIDE}"
        )
        total_passed, total_ran = total_passed + passed, total_ran + ran
    report["checks"] = {"passed": total_passed, "ran": total_ran}
    report["summary"] = sentence(total_passed, total_ran)
    return report


def all_passed(report: Report) -> bool:
    """Every check that ran passed, in every exercise (the student edition's exit status 0):
    each exercise's counts (``summarize``) are equal."""
    return all(
        ex.status == ExerciseStatus.GRADED
        and all(t.status in (TestStatus.PASSED, TestStatus.SKIPPED) for t in ex.tests)
        for ex in report.exercises
    )


def view(report: dict) -> dict:
    """The report as the student edition shows it: the counts, and no points anywhere."""
    out = {k: v for k, v in report.items() if k not in SCORE_KEYS}
    out["exercises"] = []
    for ex in report.get("exercises", []):
        e = {k: v for k, v in ex.items() if k not in SCORE_KEYS}
        e["tests"] = [{k: v for k, v in t.items() if k not in SCORE_KEYS + ("points",)} for t in ex.get("tests", [])]
        out["exercises"].append(e)
    return out


def readable(report: dict) -> dict:
    """A report as ``view`` wrote it (read back by ``%grade``, say) with its points put back as 0,
    so that it reads into a ``grader.feedback.records.Report``: the student edition's templates
    count checks and never show a score."""
    if all(k in report for k in SCORE_KEYS):
        return report
    zero = dict.fromkeys(SCORE_KEYS, 0.0)
    out = {**zero, **report}
    out["exercises"] = [
        {**zero, **ex, "tests": [{**zero, **t} for t in ex.get("tests", [])]} for ex in report.get("exercises", [])
    ]
    return out
