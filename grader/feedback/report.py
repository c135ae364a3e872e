"""Render a report (a ``grader.feedback.records.Report``) as text, Markdown, HTML (Jinja2
templates) or JSON (its data, ``Report.to_dict``).

Every string of a report may hold text a student chose; each format shows it
inert (``grader.feedback.textsafe``): every field is kept to ``MAX_FIELD`` characters;
text output shows control characters escaped and breaks CI workflow commands
(each template output passes through ``textsafe.terminal``); Markdown puts
messages in fences longer than any backtick run inside and escapes links,
images and HTML in prose; HTML is autoescaped, its control and bidirectional
characters shown escaped."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

from grader.feedback import textsafe
from grader.feedback.records import FAILING, ExerciseStatus, Report, RowStatus, TestStatus

FORMATS = ("text", "json", "html", "markdown")
EXTENSIONS = {".json": "json", ".html": "html", ".htm": "html", ".md": "markdown", ".txt": "text", ".xml": "junit"}
TEMPLATES = {"text": "report.txt.j2", "html": "report.html.j2", "markdown": "report.md.j2"}

ANSI = {
    "bold": "\033[1m",
    "dim": "\033[2m",
    "red": "\033[31m",
    "green": "\033[32m",
    "yellow": "\033[33m",
    "cyan": "\033[36m",
    "reset": "\033[0m",
}


def _counts(tests) -> dict:
    """{status: how many of ``tests`` have it}, every status present (the templates read ``c.failed``)."""
    c = dict.fromkeys(TestStatus, 0)
    for t in tests:
        c[t.status] += 1
    return c


@dataclass
class FailureGroup:
    """Failed tests with one cause: the first test's message as the example, the others named."""

    message: str
    hint: str
    trace: str
    tests: list = field(default_factory=list)  # TestResult
    reproducer: str = ""
    score: float = 0.0
    max_score: float = 0.0
    title: str = ""
    names: str = ""


def failure_groups(tests) -> list:
    """Failed tests (``TestResult``) merged by cause: the same hint (or, without one, the same
    message) is one ``FailureGroup`` showing the first test's message as the example and
    naming the others. A stub or a single bug fails many tests the same way."""
    groups: dict = {}
    for t in tests:
        if t.status not in FAILING:
            continue
        reproducer = (t.reproducer or "") if t.visible else ""  # never for a hidden test
        key = ("hint", t.hint) if t.hint else ("message", t.message)
        g = groups.setdefault(key, FailureGroup(message=t.message, hint=t.hint, trace=t.trace or ""))
        if reproducer and not g.reproducer:  # the example is a test the student can run
            g.message, g.reproducer = t.message, reproducer
        g.tests.append(t)
        g.score += t.score
        g.max_score += t.max_score
    for g in groups.values():
        first = g.tests[0]
        g.title = first.description or first.name
        if len(g.tests) > 1:
            more = len(g.tests) - 1
            g.title += f" (and {more} more test{'s' if more > 1 else ''} with the same cause)"
        g.names = ", ".join(t.name for t in g.tests)
    return list(groups.values())


class _Raw(str):
    """Text the text template made itself (colour codes around safe text): not escaped again."""


def _color(ansi):
    def color(c, text) -> str:
        text = textsafe.terminal(str(text))
        return _Raw(f"{ansi[c]}{text}{ansi['reset']}" if ansi else text)

    return color


def _terminal(value):
    if type(value) is _Raw:
        return value
    return textsafe.terminal(value) if isinstance(value, str) else value


def _plain(value):
    return textsafe.terminal(value) if type(value) is str else value


@functools.cache
def environment(autoescape: bool, fmt: str = "html"):
    """One environment per format: it keeps its compiled templates (a batch
    renders one report per student; compiling the HTML template each time took 40 ms).
    What each ``{{ }}`` shows passes through the format's neutraliser (``finalize``)."""
    import jinja2

    from grader.feedback.numbers import points_text

    finalize = textsafe.html_text if autoescape else _terminal if fmt == "text" else _plain  # Markdown
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=autoescape,
        trim_blocks=False,
        lstrip_blocks=False,
        keep_trailing_newline=True,
        finalize=finalize,
    )
    env.filters["md_fence"] = textsafe.md_fence
    env.filters["md_code"] = textsafe.md_code_span
    env.filters["md_text"] = textsafe.md_text
    env.filters["one_line"] = textsafe.one_line
    env.filters["groupby_status"] = _counts
    env.filters["failure_groups"] = failure_groups
    env.filters["pad"] = lambda s, n: str(s).ljust(n)
    env.filters["pts"] = points_text  # two decimals, half up (grader.feedback.numbers)
    env.globals["pct"] = lambda s, m: round(100.0 * s / m, 1) if m else 0.0
    env.globals["bar_color"] = lambda s, m: "#1a7f37" if m and s >= m else ("#cf222e" if s == 0 else "#bf8700")
    env.globals["score_color"] = lambda s, m: "green" if m and s >= m else ("red" if s == 0 else "yellow")
    # the templates compare statuses with the vocabulary too (``t.status == TestStatus.PASSED``)
    env.globals.update(TestStatus=TestStatus, ExerciseStatus=ExerciseStatus, RowStatus=RowStatus)
    return env


def render(report: Report | dict, fmt: str = "text", color: bool = False) -> str:
    """``report``: a ``grader.feedback.records.Report`` (or its JSON data, read into one).
    JSON is its data; the templates read the record (what grading added to the data,
    ``notes`` say, is the record's ``extra``)."""
    if fmt != "json" and fmt not in TEMPLATES:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    data = textsafe.clip_report(report.to_dict() if isinstance(report, Report) else report)
    from grader.feedback import local_check

    local = local_check.is_local(data)
    if local and "summary" not in data:  # the student edition: what its check ran, never points
        data = local_check.summarize(dict(data))
    if fmt == "json":
        return json.dumps(local_check.view(data) if local else data, indent=2, ensure_ascii=False) + "\n"
    env = environment(autoescape=(fmt == "html"), fmt=fmt)
    template = env.get_template(TEMPLATES[fmt])
    record = Report.from_dict(local_check.readable(data) if local else data)
    return template.render(report=record, ansi=ANSI if color else None, color=_color(ANSI if color else None))
