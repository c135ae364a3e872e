"""Renderers for the platforms courses grade on.

Each takes the report (a ``grader.feedback.records.Report``, or the JSON data that
``grader.harness.run.grade`` or ``grade batch`` builds, read into one) and returns text;
none re-runs a test.  ``render`` picks one by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.feedback.records import Report


def render(report: Report | dict, fmt: str, **options) -> str:
    if fmt == "gradescope":
        from grader.formats.gradescope import render as r
    elif fmt == "prairielearn":
        from grader.formats.prairielearn import render as r
    elif fmt == "junit":
        from grader.formats.junit import render as r
    elif fmt == "classroom":
        from grader.formats.github import render_classroom as r
    else:
        raise ValueError(f"unknown platform format {fmt!r}")
    return r(report, **options)
