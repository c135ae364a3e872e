"""JUnit XML, as CI test reporters read it (Jenkins, GitLab ``artifacts:reports:junit``,
dorny/test-reporter, mikepenz/action-junit-report).

Written with ``xml.etree.ElementTree``, as pytest's own ``src/_pytest/junitxml.py``
writes it, in one of pytest's two families:

- ``xunit2`` (the default, as pytest's): valid against Jenkins xunit-plugin's
  ``junit-10.xsd``.  ``<testsuites>`` → one ``<testsuite>`` per exercise (with
  ``file``, and the exercise's points as ``<properties>``: ``score``,
  ``max_score``) → one ``<testcase>`` per test with ``name`` (the test's own
  name, the same whatever it scored, so a CI's test history and its
  new/fixed comparison follow it), ``classname`` = the exercise and ``time``,
  and at most one result child: ``<failure message=…>`` (a wrong answer; the
  body holds the description, the whole explanation and the hint), ``<error>``
  (the code could not run: crash, time-out, missing file) or ``<skipped>`` (the
  grader could not run the test; its points kept).  The test's points are in its
  ``<system-out>`` (``points: 0 / 0.31``), which GitLab shows with the test.
- ``legacy`` (pytest's ``xunit1``/``legacy``): the same plus ``file`` and ``line``
  on each test case (the student's file; the line where the failure is, when
  known) and the test's points as test-case ``<properties>``, for the reporters
  that read them (mikepenz/action-junit-report and GitLab use ``file``).  Not
  valid against ``junit-10.xsd``, which has neither.

The report's notes (a notebook's magics removed) are the first suite's
``<system-out>``.  ``time`` is 0: the same submission and seed give the same
bytes.  Text is XML-escaped by ElementTree; control characters, which XML 1.0
forbids, are shown escaped first (``textsafe.escape_controls``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.errors import RUN_KINDS, ErrorKind
from grader.feedback.numbers import points_text
from grader.feedback.records import FAILING, ExerciseResult, Report, TestResult, TestStatus
from grader.feedback.textsafe import escape_controls
from grader.formats.common import explanation, first_line, for_platform, location, notes

_ERROR_KINDS = RUN_KINDS | {ErrorKind.INTERNAL}
FAMILIES = ("xunit2", "legacy")


def _clean(value) -> str:
    return escape_controls(str(value))


def _properties(parent, **values) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in values.items():
        ET.SubElement(props, "property", name=name, value=value)


def _testcase(suite, ex: ExerciseResult, t: TestResult, prefix: str, family: str) -> str:
    """Add ``t``'s ``<testcase>`` to ``suite``; returns the counter it adds to."""
    case = ET.SubElement(suite, "testcase", name=_clean(t.name), classname=_clean(ex.name))
    if family == "legacy":
        file, line = location(ex, t)
        case.set("file", _clean(prefix + file))
        if line:
            case.set("line", str(line))
    case.set("time", "0")
    if family == "legacy":
        _properties(case, score=points_text(t.score), max_score=points_text(t.max_score))
    counter = "tests"
    if t.status == TestStatus.SKIPPED:
        counter = "skipped"
        ET.SubElement(case, "skipped", message=first_line(t.message, 300)).text = _clean(t.message)
    elif t.status in FAILING:
        could_not_run = t.status == TestStatus.ERROR or t.kind in _ERROR_KINDS
        tag, counter = ("error", "errors") if could_not_run else ("failure", "failures")
        text = (_clean(t.description) + "\n" if t.description else "") + explanation(t)
        el = ET.SubElement(
            case,
            tag,
            message=first_line(t.message, 300),
            type=_clean(t.kind or ("wrong_result" if tag == "failure" else "error")),
        )
        el.text = text
    ET.SubElement(case, "system-out").text = f"points: {points_text(t.score)} / {points_text(t.max_score)}"
    return counter


def render(report: Report | dict, prefix: str = "", family: str = "xunit2", **_) -> str:
    """``prefix``: the student's folder relative to the repository root, for ``file``;
    ``family``: ``xunit2`` (default) or ``legacy`` (see the module's docstring)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {', '.join(FAMILIES)}")
    report = for_platform(report)
    root = ET.Element("testsuites", name=_clean(f"nngrade {report.grader_version}".strip()))
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    for i, ex in enumerate(report.exercises):
        suite = ET.SubElement(root, "testsuite", name=_clean(ex.name))
        _properties(suite, score=points_text(ex.score), max_score=points_text(ex.max_score), title=_clean(ex.title))
        n = dict.fromkeys(totals, 0)
        for t in ex.tests:
            n["tests"] += 1
            counter = _testcase(suite, ex, t, prefix, family)
            if counter != "tests":
                n[counter] += 1
        if i == 0 and notes(report):
            ET.SubElement(suite, "system-out").text = "\n".join(notes(report))
        for k, v in n.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("time", "0")
        suite.set("file", _clean(prefix + ex.file))
    for k in ("tests", "failures", "errors"):  # junit-10.xsd has no `skipped` on <testsuites>
        root.set(k, str(totals[k]))
    root.set("time", "0")
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
