"""Student-controlled text, made safe for each place it is shown.

Everything a submission can put into a report (exception names and messages,
printed output, reprs, type and parameter names, its folder's name) is text
its author chose.  It crosses the boundary as plain strings (``grader.wire.codec``)
and is then bounded and neutralised here, one small function per format, so
that every output (text, Markdown, HTML, JSON, the gradebook, the platform
formats) shows it as inert text:

* sizes: ``clip`` (one string from the worker: ``MAX_TEXT`` characters) and
  ``clip_report`` (every string field of a report: ``MAX_FIELD`` characters);
* ``escape_controls``: control and invisible formatting characters (ANSI
  escapes, carriage returns, bidirectional overrides, zero-width spaces) are
  shown escaped (``\\x1b``, ``\\u202e``), never acted on;
* ``terminal``: text for a terminal or a CI log (also breaks workflow commands);
* ``md_fence`` / ``md_code_span`` / ``md_text``: Markdown code blocks, inline
  code and prose;
* ``html_text``: for Jinja2's autoescaping (which handles ``<>&"'``);
* ``one_line``: a name kept on one line (line feeds and tabs escaped too);
* ``csv_cell``: a gradebook cell a spreadsheet will not run or misread.

Each function returns ordinary text unchanged, so reports of ordinary
submissions are byte for byte what they were.
"""

from __future__ import annotations

import re
import unicodedata

from grader.wire.sizes import MAX_FIELD, MAX_NAME, MAX_TEXT, clip, clip_report  # noqa: F401 (re-exported)

# -- control and invisible characters -------------------------------------------

# Every code point a terminal, a browser or an editor acts on instead of showing:
# C0/C1 controls but tab and newline, DEL, Unicode format characters (category Cf:
# bidirectional overrides and isolates, zero-width spaces and joiners, the BOM,
# the soft hyphen) and the line and paragraph separators (Zl, Zp), as of Unicode 14.
_UNSAFE_RANGES = (
    "0-8 B-1F 7F-9F AD 600-605 61C 6DD 70F 890-891 8E2 180E 200B-200F 2028-202E 2060-2064 "
    "2066-206F FEFF FFF9-FFFB 110BD 110CD 13430-13438 1BCA0-1BCA3 1D173-1D17A E0001 E0020-E007F"
)


def _char_class(ranges: str) -> str:
    out = []
    for r in ranges.split():
        a, _, b = r.partition("-")
        out.append(f"\\U{int(a, 16):08x}" + (f"-\\U{int(b, 16):08x}" if b else ""))
    return "".join(out)


_UNSAFE = re.compile(f"[{_char_class(_UNSAFE_RANGES)}]")


def _shown(m: re.Match) -> str:
    cp = ord(m.group())
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def escape_controls(text: str) -> str:
    """Control and invisible formatting characters shown as escapes (``\\x1b``,
    ``\\r``→``\\x0d``, ``\\u202e``); tab and newline are kept."""
    return _UNSAFE.sub(_shown, text) if _UNSAFE.search(text) else text


_BREAKS = re.compile("[\t\n]")


def one_line(text: str) -> str:
    """A name that must stay on one line (a student id in a gradebook row or a table):
    ``escape_controls`` and also tab and line feed shown escaped (``\\x09``, ``\\x0a``), so
    that no reader splits the row or the cell."""
    text = escape_controls(text)
    return _BREAKS.sub(_shown, text) if _BREAKS.search(text) else text


# -- terminals and CI logs ------------------------------------------------------------

# a line that GitHub Actions (``::error``, ``::add-mask::``, ``::stop-commands::``) or
# Azure Pipelines (``##[error]``, ``##vso[``) would act on, after leading white space
_WORKFLOW = re.compile(r"^([ \t]*)(?=::|##\[|##vso\[)", re.M | re.I)


def terminal(text: str) -> str:
    """Text for a terminal or a CI log (the text report, with colour or without).

    Control characters are shown escaped (no ANSI sequence from a student ever
    reaches the terminal: no clear screen, no OSC 52 clipboard write, no
    carriage-return overwrite), and a line that a CI runner would take as a
    workflow command (``::error``, ``::add-mask::``, ``##[error]``, ``##vso[``)
    starts with a backslash instead, so that it is shown, not obeyed."""
    text = escape_controls(text)
    if "::" in text or "##" in text:
        text = _WORKFLOW.sub(r"\1\\", text)
    return text


# -- Markdown --------------------------------------------------------------------------

_BACKTICKS = re.compile(r"`+")


def _longest_run(text: str, char_re=_BACKTICKS) -> int:
    return max((len(m.group()) for m in char_re.finditer(text)), default=0)


def md_fence(text: str, info: str = "") -> str:
    """A fenced code block holding ``text`` literally: the fence is longer than any
    run of backticks inside (at least three), so nothing inside can close it (no
    heading, image, link or HTML after it renders). Control characters escaped and
    workflow commands broken, as in ``terminal`` (a Markdown file gets printed in CI logs too)."""
    text = terminal(text)
    fence = "`" * max(3, _longest_run(text) + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def md_code_span(text: str) -> str:
    """Inline code holding ``text`` literally (a file or test name, a student id):
    delimited by more backticks than any run inside, on one line."""
    text = " ".join(escape_controls(text).splitlines())
    ticks = "`" * (_longest_run(text) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


_MD_CODE = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.S)  # a code span, kept as it is
_MD_URL = re.compile(r"\b(?:https?|ftp)://[^\s<>()\[\]`]+|\bwww\.[^\s<>()\[\]`]+", re.I)  # GitHub's autolinks
# what starts HTML or an autolink (<a, </, <!, <?), an image (![), ends a link's text (](, ][)
# or escapes the next character (a backslash before punctuation): each gets a backslash
_MD_ACTIVE = re.compile(r"<(?=[A-Za-z/!?])|!(?=\[)|\](?=[(\[])|\\(?=[!-/:-@\[-`{-~])")


def _md_prose(text: str) -> str:
    text = _MD_ACTIVE.sub(lambda m: "\\" + m.group(), text)
    return _MD_URL.sub(lambda m: md_code_span(m.group()), text)


def md_text(text: str) -> str:
    """Prose in Markdown (a hint, a title), on one line: code spans are kept, and
    outside them whatever would render as HTML, a link, an image or an autolinked
    URL is escaped; line breaks become spaces (so no line can start a heading,
    a list or a table). Control characters escaped."""
    text = " ".join(escape_controls(text).splitlines())
    if not (_MD_ACTIVE.search(text) or "://" in text or "www." in text.lower()):
        return text
    text = text.replace("\\`", "\\\\`")  # a backtick stays a code span's delimiter, as _MD_CODE takes it
    out, pos = [], 0
    for m in _MD_CODE.finditer(text):
        out.append(_md_prose(text[pos : m.start()]))
        out.append(m.group())
        pos = m.end()
    out.append(_md_prose(text[pos:]))
    return "".join(out)


# -- HTML ------------------------------------------------------------------------------


def html_text(value):
    """Jinja2 ``finalize`` for HTML: strings get their control and invisible
    formatting characters escaped (a right-to-left override would reorder what
    follows it on the page) and workflow commands broken, as in ``terminal``;
    autoescaping then handles ``< > & " '``.
    Markup (what the template itself made safe) passes as it is."""
    if type(value) is str:
        return terminal(value)
    return value


# -- spreadsheets ------------------------------------------------------------------------

_FORMULA_START = set("=+-@\t\r\n ")


def csv_cell(text: str) -> str:
    """A gradebook cell that no spreadsheet runs as a formula or shows misleadingly:
    control and invisible characters (zero-width spaces, bidirectional overrides,
    carriage returns, line feeds and tabs) are shown escaped, and a cell whose first character is a formula start
    (``= + - @``, their full-width forms such as ``＝``, or white space, which
    some spreadsheets skip before a formula) gets a leading apostrophe, which
    spreadsheets take as "text"."""
    text = one_line(text)
    first = text[:1]
    if first and (
        first in _FORMULA_START or first.isspace() or unicodedata.normalize("NFKC", first)[:1] in _FORMULA_START
    ):
        return "'" + text
    return text


__all__ = [
    "MAX_TEXT",
    "MAX_NAME",
    "MAX_FIELD",
    "clip",
    "clip_report",
    "escape_controls",
    "one_line",
    "terminal",
    "md_fence",
    "md_code_span",
    "md_text",
    "html_text",
    "csv_cell",
]
