"""What every platform renderer needs: the report's tests in order, where a
failure is in the student's file, and student text made harmless.

Text in a report can come from the student (an exception's message, what the
code printed).  Each platform interprets some text: GitHub runs workflow
commands (``::name::``) found in a log, Markdown and HTML render.  Renderers
pass student-derived text through ``clean`` and put it in a ``fence`` (or
their format's own escaping) so that it is shown, never obeyed.
"""
from __future__ import annotations

import copy
import re

_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")
_WHERE = re.compile(r"([\w.\-]+\.(?:py|ipynb)), line (\d+)")


def clean(text) -> str:
    """``text`` without terminal escapes and control characters; newlines as ``\\n``."""
    text = str(text or "").replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", _ANSI.sub("", text))


def fence(text: str, lang: str = "text") -> str:
    """A Markdown code block holding ``text`` verbatim: the fence is longer than
    any run of backticks inside, so the text cannot close it."""
    text = clean(text)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    bar = "`" * max(3, longest + 1)
    return f"{bar}{lang}\n{text}\n{bar}"


def html_escape(text: str) -> str:
    import html

    return html.escape(clean(text), quote=True)


def tests(report: dict, skipped: bool = False):
    """(exercise, test, number) for every test in report order; ``number`` is
    ``"N.k"`` (exerciseN, its k-th test).  Skipped tests (not counted) only if asked."""
    for i, ex in enumerate(report.get("exercises", []), 1):
        digits = re.sub(r"\D", "", ex.get("name", ""))
        i = int(digits) if digits else i  # exercise3's tests are 3.1, 3.2, … whatever else is graded
        k = 0
        for t in ex.get("tests", []):
            if t.get("status") == "skipped" and not skipped:
                continue
            k += 1
            yield ex, t, f"{i}.{k}"


def location(ex: dict, t: dict):
    """(file, line) of a failure in the student's file when the message names
    one (an exception or a syntax error there), else (file, None)."""
    file = ex.get("file", "")
    for text in (t.get("message", ""), ex.get("message", "")):
        for name, line in _WHERE.findall(text or ""):
            if name == file.rsplit("/", 1)[-1]:
                return file, int(line)
    return file, None


def explanation(t: dict) -> str:
    """The full text of a failure: message, then the hint."""
    text = clean(t.get("message", ""))
    if t.get("hint"):
        text += "\nHint: " + clean(t["hint"])
    return text


def first_line(text: str, n: int = 200) -> str:
    line = next((ln for ln in clean(text).splitlines() if ln.strip()), "")
    return line if len(line) <= n else line[: n - 1] + "…"


# Advice that only makes sense at a student's own terminal (where `grade` runs
# with --submission); a report rendered for a batch or a platform says it plainly.
_CLI_ADVICE = [
    (re.compile(r"Save your work as (\S+) in that folder, or point --submission at the folder that holds it\."),
     r"Submit your work as \1 (in any folder of your submission)."),
    (re.compile(r" in the submission folder \S+"), " in the submission"),
    (re.compile(r"(,? or )?(pass|point) --submission[^.;\n]*"), ""),
]


def for_platform(report: dict) -> dict:
    """A copy of ``report`` whose advice names no command-line option."""
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


def counts(report: dict) -> dict:
    c = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for _, t, _ in tests(report, skipped=True):
        c[t["status"]] = c.get(t["status"], 0) + 1
    return c


def not_gradable(report: dict) -> list:
    """Why nothing of the submission could be graded (empty list: something could).
    An exercise whose file is missing or cannot be loaded counts as not graded."""
    exs = report.get("exercises", [])
    if report.get("unreadable"):
        return [clean(report["unreadable"])]
    if exs and all(ex.get("status") in ("missing", "load_error") for ex in exs):
        return [f"{ex['name']}: {first_line(ex.get('message', ''), 400)}" for ex in exs]
    return []
