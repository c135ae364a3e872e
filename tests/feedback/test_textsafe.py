"""Student-controlled text is shown inert in every format."""

import csv
import html
import io
import re

from grader.feedback import textsafe
from grader.feedback.report import render

HOSTILE = (
    "boom\x1b[2J\x1b]52;c;ZXZpbA==\x07\r\n::error file=x::pwned\n  ::add-mask::secret\n##[error]bad\n"
    "```\n# 10.00 / 10\n![x](http://e.vil/a.png) [click](http://e.vil) <img src=x> \u202eevil\u200b"
)


def _report(text=HOSTILE, submission="sub\u202emitted`x`"):
    test = {
        "name": "test_a",
        "description": "a check",
        "status": "failed",
        "score": 0.0,
        "max_score": 10.0,
        "message": text,
        "hint": "Hint with " + text,
        "visible": False,
    }
    ex = {
        "name": "exercise1",
        "title": "Softmax",
        "file": "exercise1_softmax.py",
        "score": 0.0,
        "max_score": 10,
        "status": "graded",
        "message": "",
        "hint": "",
        "tests": [test],
    }
    return {
        "score": 0.0,
        "max_score": 10,
        "exercises": [ex],
        "seed": 0,
        "submission": submission,
        "grader_version": "x",
        "torch_version": "x",
        "cuda": False,
    }


def _no_raw_controls(out: str):
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202e\u200b]", out), repr(out[:200])


def test_text_shows_controls_escaped_and_breaks_workflow_commands():
    for color in (False, True):
        out = render(_report(), "text", color=color)
        if color:  # the grader's own colours are the only escape sequences left
            out = re.sub(r"\x1b\[\d+m", "", out)
        _no_raw_controls(out)
        assert "\\x1b[2J" in out and "\\u202e" in out
        for line in out.splitlines():
            assert not line.lstrip().startswith(("::", "##[")), line
        assert "\\::error file=x::pwned" in out and "\\::add-mask::" in out and "\\##[error]" in out


def test_markdown_keeps_student_text_inside_its_code_block():
    out = render(_report(), "markdown")
    _no_raw_controls(out)
    lines = out.splitlines()
    outside, fence = [], None  # CommonMark: a fence closes at a line of at least as many backticks
    for line in lines:
        ticks = re.fullmatch(r"(`{3,})\w*", line)
        if fence is None and ticks:
            fence = ticks.group(1)
        elif fence is not None and re.fullmatch(r"`{" + str(len(fence)) + ",}", line):
            fence = None
        elif fence is None:
            outside.append(line)
    assert fence is None
    # the fake heading stayed inside its block, or inline in the one-line hint
    assert not any(line.lstrip("> ").startswith("#") and "10.00 / 10" in line for line in outside)
    assert len([line for line in outside if "pwned" in line]) == 1
    hint = next(line for line in lines if line.startswith("> **Hint:**"))
    assert "\\![x\\](" in hint and "[click\\](" in hint and "\\<img" in hint and "`http://e.vil`" in hint
    assert "Submission `` sub\\u202emitted`x` `` " in out


def test_markdown_fences_and_spans_outlast_any_backtick_run():
    for inner in ("", "`", "``", "```", "`````", "a ```` b"):
        block = textsafe.md_fence(f"x\n{inner}\ny")
        fence = block.splitlines()[0]
        assert len(fence) > max((len(r) for r in re.findall("`+", inner)), default=0) and len(fence) >= 3
        assert block.endswith("\n" + fence)
        span = textsafe.md_code_span(inner + "x")
        ticks = re.match("`+", span).group()
        assert ticks not in inner and span.endswith(ticks)


def test_html_escapes_markup_and_shows_bidi_and_zero_width_characters():
    out = render(_report(), "html")
    assert "<img src=x>" not in out and "&lt;img src=x&gt;" in out
    _no_raw_controls(out)
    assert "\\u202e" in out and "\\x1b[2J" in out


def test_json_keeps_the_text_but_clips_it():
    big = "E" * (4 << 20)
    out = render(_report(big), "json")
    assert len(out) < 10 * textsafe.MAX_FIELD
    assert f"[{len(big) - textsafe.MAX_FIELD} more characters cut]" in out


def test_every_format_is_bounded_whatever_the_field_sizes():
    big = "E" * (4 << 20)
    for fmt in ("text", "markdown", "html", "json"):
        assert len(render(_report(big, submission=big), fmt)) < 12 * textsafe.MAX_FIELD, fmt


def test_ordinary_text_is_unchanged():
    plain = "softmax(x) does not match the expected result\n  input: x: shape (4, 6)\n\tok [0, 1] <= 1e-5 · x"
    assert textsafe.terminal(plain) == plain and textsafe.escape_controls(plain) == plain
    hint = "Use `x[x < 0] = 0` or x.shape[0] (a < b), and keepdim=True."
    assert textsafe.md_text(hint) == hint
    assert textsafe.csv_cell("alice.smith") == "alice.smith"


def test_gradebook_cells_are_neither_formulas_nor_reordered():
    hostile = [
        " =1+1",
        "\u200b=HYPERLINK(1)",
        "\uff1d1+1",
        "\uff0bcmd",
        "name\u202egnp.exe",
        "-2",
        "@SUM(1)",
        "\t=1",
        "\u3000=1",
    ]
    for text in hostile:
        cell = textsafe.csv_cell(text)
        assert cell.startswith("'") or not (cell[:1].isspace() or cell[:1] in "=+-@\uff1d\uff0b"), (text, cell)
        assert "\u202e" not in cell and "\u200b" not in cell
    assert textsafe.csv_cell("name\u202egnp.exe") == "name\\u202egnp.exe"


def test_grades_csv_neutralises_ids_and_status(tmp_path):
    from grader.batch.output import write_csv
    from grader.exercises import lookup
    from grader.feedback.records import GradeRow

    ex = lookup("exercise1")
    rows = [
        {"student": s, "status": "graded", "score": 1.0, "exercises": {"exercise1": 1.0}}
        for s in (" =1+1", "\u200b=2", "\uff1d3", "ab\u202ecd")
    ]
    rows.append({"student": "z", "status": "error", "reason": "=cmd|' /C calc'!A0"})
    write_csv(tmp_path / "grades.csv", [GradeRow.from_dict(r) for r in rows], [ex])
    data = list(csv.reader(io.StringIO((tmp_path / "grades.csv").read_text())))
    ids = [r[0] for r in data[2:]]
    assert sorted(ids) == sorted(["' =1+1", "ab\\u202ecd", "z", "\\u200b=2", "'\uff1d3"]), ids
    assert all(not r[-1].startswith("=") for r in data)


def test_class_summary_shows_ids_inert():
    from grader.feedback.report import environment

    out = environment(autoescape=True).from_string("<td>{{ s }}</td>").render(s="ab\u202ecd<b>")
    assert out == "<td>" + html.escape("ab\\u202ecd<b>") + "</td>"


def test_no_format_holds_a_line_a_ci_runner_would_obey():
    for fmt in ("text", "markdown", "html", "json"):
        for line in render(_report(), fmt).splitlines():
            assert not line.lstrip().startswith(("::", "##[")), (fmt, line)


def test_platform_formats_neutralise_with_textsafe():
    """The platform formats (grader.formats) use this module: controls shown escaped (not
    silently dropped), workflow commands broken in Markdown code blocks, text kept."""
    import json
    import xml.etree.ElementTree as ET

    from grader.formats import render as platform
    from grader.formats.github import annotations, summary_markdown

    def strings(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from strings(v)
        elif isinstance(value, list):
            for v in value:
                yield from strings(v)

    report = _report()
    shown = {
        fmt: "\n".join(strings(json.loads(platform(report, fmt))))
        for fmt in ("gradescope", "prairielearn", "classroom")
    }
    root = ET.fromstring(platform(report, "junit"))
    shown["junit"] = "\n".join(
        [e.text or "" for e in root.iter()] + [v for e in root.iter() for v in e.attrib.values()]
    )
    shown["github summary"] = summary_markdown(report)
    shown["github annotations"] = "\n".join(
        annotations(
            dict(
                report,
                exercises=[
                    dict(
                        report["exercises"][0],
                        tests=[
                            dict(
                                report["exercises"][0]["tests"][0],
                                message=HOSTILE + "\nin exercise1_softmax.py, line 3",
                            )
                        ],
                    )
                ],
            )
        )
    )
    for fmt, out in shown.items():
        _no_raw_controls(out)
        assert "\\x1b[2J" in out, (fmt, out[:300])
        assert "\\u202e" in out or fmt == "classroom", (fmt, out[:300])  # (it shows the first line only)
    for fmt in ("gradescope", "github summary"):  # student text in code blocks: workflow commands broken there too
        assert "\\::error file=x::pwned" in shown[fmt] and "\\##[error]bad" in shown[fmt], fmt
