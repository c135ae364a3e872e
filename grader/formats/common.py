"""What every platform renderer needs: the report's tests in order, where a
failure is in the student's file, and the advice a platform should show.

Text in a report can come from the student (an exception's message, what the
code printed).  Each platform interprets some text: GitHub runs workflow
commands (``::name::``) found in a log, Markdown and HTML render.  Renderers
neutralise it with ``grader.feedback.textsafe``, the project's one module for this
(``escape_controls`` for plain fields, ``md_fence`` / ``md_text`` for Markdown,
``terminal`` for a CI log), plus their format's own escaping (XML, percent
encoding of workflow-command data) so that it is shown, never obeyed.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator

from grader.feedback.records import NOT_LOADED, ExerciseResult, Report, TestResult, TestStatus
from grader.feedback.textsafe import escape_controls, terminal

_WHERE = re.compile(r"([\w.\-]+\.(?:py|ipynb)), line (\d+)")


def tests(report: Report, skipped: bool = False) -> Iterator[tuple[ExerciseResult, TestResult, str]]:
    """(exercise, test, number) for every test in report order; ``number`` is
    ``"N.k"`` (exerciseN, its k-th test).  Skipped tests (not counted) only if asked."""
    for i, ex in enumerate(report.exercises, 1):
        digits = re.sub(r"\D", "", ex.name)
        i = int(digits) if digits else i  # exercise3's tests are 3.1, 3.2, … whatever else is graded
        k = 0
        for t in ex.tests:
            if t.status == TestStatus.SKIPPED and not skipped:
                continue
            k += 1
            yield ex, t, f"{i}.{k}"


def location(ex: ExerciseResult, t: TestResult | None) -> tuple[str, int | None]:
    """(file, line) of a failure in the student's file when the message names
    one (an exception or a syntax error there), else (file, None)."""
    file = ex.file
    for text in ((t.message if t else ""), ex.message):
        for name, line in _WHERE.findall(text or ""):
            if name == file.rsplit("/", 1)[-1]:
                return file, int(line)
    return file, None


def explanation(t: TestResult) -> str:
    """The full text of a failure: message, then the hint."""
    text = escape_controls(t.message)
    if t.hint:
        text += "\nHint: " + escape_controls(t.hint)
    return text


def first_line(text: str, n: int = 200) -> str:
    line = next((ln for ln in escape_controls(text or "").splitlines() if ln.strip()), "")
    return line if len(line) <= n else line[: n - 1] + "…"


# Advice that only makes sense at a student's own terminal (where `grade` runs
# with --submission); a report rendered for a batch or a platform says it plainly.
_CLI_ADVICE = [
    (
        re.compile(r"Save your work as (\S+) in that folder, or point --submission at the folder that holds it\."),
        r"Submit your work as \1 (in any folder of your submission).",
    ),
    (re.compile(r" in the submission folder \S+"), " in the submission"),
    (re.compile(r"(,? or )?(pass|point) --submission[^.;\n]*"), ""),
]


def for_platform(report: Report | dict) -> Report:
    """A copy of ``report`` (a record, or its JSON data read into one) whose advice names no
    command-line option."""
    return Report.from_dict(platform_data(report.to_dict() if isinstance(report, Report) else report))


def platform_data(report: dict) -> dict:
    """A copy of the report's JSON data whose advice names no command-line option."""

    def fix(value):
        if isinstance(value, str):
            if "--submission" in value or "submission folder" in value:
                for pattern, repl in _CLI_ADVICE:
                    value = pattern.sub(repl, value)
            return value
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        return value

    return fix(copy.deepcopy(report))


def notes(report: Report) -> list:
    """The report's notes (what the grader did with the submission: a notebook's
    magics removed, say), for a plain-text field: each on one line, control
    characters escaped and workflow commands broken (``textsafe.terminal``).
    Markdown fields take the raw notes through ``textsafe.md_text`` instead."""
    return [" ".join(terminal(str(n)).splitlines()) for n in report.extra.get("notes") or []]


def not_gradable(report: Report) -> list:
    """Why nothing of the submission could be graded (empty list: something could).
    An exercise whose file is missing or cannot be loaded counts as not graded."""
    exs = report.exercises
    if report.extra.get("unreadable"):
        return [escape_controls(report.extra["unreadable"])]
    if exs and all(ex.status in NOT_LOADED for ex in exs):
        return [f"{ex.name}: {first_line(ex.message, 400)}" for ex in exs]
    return []
