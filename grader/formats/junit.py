"""JUnit XML, as CI test reporters read it (dorny/test-reporter,
mikepenz/action-junit-report, GitLab ``artifacts:reports:junit``, Jenkins).

``<testsuites>`` → one ``<testsuite>`` per exercise → one ``<testcase>`` per
test with ``classname`` = the exercise, ``file`` and ``line`` (where the
failure is in the student's file, when known), and at most one result child:
``<failure message=…>`` (a wrong answer; the body holds the whole explanation),
``<error>`` (the code could not run: crash, time-out, missing file) or
``<skipped>``.  Points: ``<property name="score">`` and ``max_score`` on each
test case and each suite (the testmo/junitxml convention), and in the test
name (``[0.29/0.29 pts]``) because most reporters do not show properties.
"""
from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from grader.errors import RUN_KINDS, ErrorKind
from grader.formats.common import explanation, first_line, for_platform, location, notes
from grader.feedback.textsafe import escape_controls

_ERROR_KINDS = RUN_KINDS | {ErrorKind.INTERNAL}


def _attr(value) -> str:
    # XML 1.0 allows neither control characters (shown escaped by escape_controls) nor raw newlines in
    # attributes (a parser would turn them into spaces): write them as character references
    return quoteattr(escape_controls(str(value)), {"\n": "&#10;", "\t": "&#9;"})


def _text(value) -> str:
    return escape(escape_controls(str(value)))


def _props(score, max_score, indent) -> list:
    return [f"{indent}<properties>",
            f'{indent}  <property name="score" value="{score:g}"/>',
            f'{indent}  <property name="max_score" value="{max_score:g}"/>',
            f"{indent}</properties>"]


def render(report: dict, prefix: str = "", **_) -> str:
    """``prefix``: the student's folder relative to the repository root, for ``file``."""
    report = for_platform(report)
    suites = []
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for ex in report.get("exercises", []):
        cases = []
        n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for t in ex.get("tests", []):
            n["tests"] += 1
            file, line = location(ex, t)
            file = prefix + file
            name = f"{t['name']} [{t['score']:g}/{t['max_score']:g} pts]"
            attrs = f"name={_attr(name)} classname={_attr(ex['name'])} file={_attr(file)}"
            if line:
                attrs += f' line="{line}"'
            attrs += ' time="0"'
            body = _props(t["score"], t["max_score"], "      ")
            status = t["status"]
            if status == "skipped":
                n["skipped"] += 1
                body.append(f"      <skipped message={_attr(first_line(t.get('message', ''), 300))}/>")
            elif status in ("failed", "error"):
                tag = "error" if status == "error" or t.get("kind") in _ERROR_KINDS else "failure"
                n["failures" if tag == "failure" else "errors"] += 1
                kind = t.get("kind") or ("wrong_result" if tag == "failure" else "error")
                text = (escape_controls(t.get("description", "")) + "\n" if t.get("description") else "") + explanation(t)
                body.append(f"      <{tag} message={_attr(first_line(t.get('message', ''), 300))} "
                            f"type={_attr(kind)}>{_text(text)}</{tag}>")
            cases.append(f"    <testcase {attrs}>\n" + "\n".join(body) + "\n    </testcase>")
        for k in totals:
            totals[k] += n[k]
        head = (f"  <testsuite name={_attr(ex['name'])} tests=\"{n['tests']}\" failures=\"{n['failures']}\" "
                f"errors=\"{n['errors']}\" skipped=\"{n['skipped']}\" time=\"0\" "
                f"file={_attr(prefix + ex.get('file', ''))}>")  # as its testcases' file
        out = []  # the report's notes (a notebook's magics removed): the first suite's output
        if not suites and notes(report):
            out = [f"    <system-out>{_text(chr(10).join(notes(report)))}</system-out>"]
        suites.append("\n".join([head] + _props(ex["score"], ex["max_score"], "    ") + cases + out
                                 + ["  </testsuite>"]))
    root = (f"<testsuites name={_attr('nngrade ' + str(report.get('grader_version', '')))} "
            f"tests=\"{totals['tests']}\" failures=\"{totals['failures']}\" errors=\"{totals['errors']}\" "
            f"skipped=\"{totals['skipped']}\" time=\"0\">")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + "\n".join([root] + suites + ["</testsuites>"]) + "\n"
