"""GitHub Actions and GitHub Classroom.

With ``GITHUB_ACTIONS=true`` ``grade`` (cli) calls ``publish``, which:
  * prints the report between ``::stop-commands::<random token>`` and
    ``::<token>::`` so that nothing in it (what the student's code printed, an
    exception message) can run a workflow command or forge the points notice;
  * prints ``::error file=…,line=…,title=…::`` annotations for failures it can
    place in the student's file (at most 10: GitHub keeps 10 error annotations
    per step and drops the rest);
  * appends a Markdown summary to ``$GITHUB_STEP_SUMMARY`` (under its 1 MiB limit);
  * appends ``result=<base64 JSON>`` to ``$GITHUB_OUTPUT``: the payload that
    classroom-resources/autograding-grading-reporter decodes (version, status,
    max_score, tests with name, status, score, message, test_code, filename,
    line_no, duration); the reporter sums ``tests[].score`` for the points.
"""

from __future__ import annotations

import base64
import json
import os
import secrets

from grader.feedback.numbers import points_text
from grader.feedback.records import FAILING, ExerciseStatus, Report
from grader.feedback.textsafe import escape_controls, md_fence, md_text
from grader.formats.common import first_line, for_platform, location

MAX_ERRORS = 10  # error annotations GitHub keeps per step
SUMMARY_LIMIT = 1024 * 1024 - 4096  # $GITHUB_STEP_SUMMARY: 1 MiB per step
OUTPUT_LIMIT = 1000 * 1000 - 1024  # a step output: 1 MB
# the Classroom reporter's statuses of a test (classroom-resources/autograding-grading-reporter)
CLASSROOM_PASS, CLASSROOM_FAIL, CLASSROOM_ERROR = "pass", "fail", "error"


def classroom_payload(report: Report | dict, prefix: str = "") -> dict:
    """One test per exercise (so the reporter's pass/total table and its points agree
    as far as they can): score = the exercise's points, status pass only at full marks."""
    report = for_platform(report)
    out, statuses = [], set()  # the payload's tests, their statuses (the reporter's vocabulary)
    for ex in report.exercises:
        failed = [t for t in ex.tests if t.status in FAILING]
        if ex.status == ExerciseStatus.ERROR:
            status = CLASSROOM_ERROR
        else:
            status = CLASSROOM_PASS if ex.score >= ex.max_score else CLASSROOM_FAIL
        statuses.add(status)
        msg = ""
        if ex.status != ExerciseStatus.GRADED:
            msg = first_line(ex.message, 300)
        elif failed:
            msg = f"{len(failed)} test(s) failed; first: {first_line(failed[0].message, 300)}"
        file, line = location(ex, failed[0]) if failed else (ex.file, None)
        out.append(
            {
                "name": f"{ex.name} ({escape_controls(ex.title)})",
                "status": status,
                "score": float(ex.score),
                "message": msg,
                "test_code": f"grade {ex.name}",
                "filename": prefix + file,
                "line_no": line or 0,
                "duration": 0,
            }
        )
    if CLASSROOM_ERROR in statuses:
        overall = CLASSROOM_ERROR
    else:
        overall = CLASSROOM_PASS if statuses <= {CLASSROOM_PASS} else CLASSROOM_FAIL
    return {"version": 1, "status": overall, "max_score": float(report.max_score), "tests": out}


def render_classroom(report: Report | dict, prefix: str = "", **_) -> str:
    return json.dumps(classroom_payload(report, prefix), indent=1, ensure_ascii=False) + "\n"


def _data(text: str) -> str:
    return escape_controls(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotations(report: Report | dict, prefix: str = "") -> list:
    """``::error`` lines for failures placed in the student's file, one per cause
    (the same hint in the same exercise is one annotation), at most MAX_ERRORS."""
    report = for_platform(report)
    seen, lines = set(), []
    for ex in report.exercises:
        for t in ex.tests:
            if t.status not in FAILING:
                continue
            file, line = location(ex, t)
            key = (ex.name, t.hint or t.message)
            if not line or key in seen:
                continue
            seen.add(key)
            title = f"{ex.name}: {first_line(t.description or t.name, 120)}"
            msg = t.message + ("\nHint: " + t.hint if t.hint else "")  # _data escapes it
            lines.append(f"::error file={_prop(prefix + file)},line={line},title={_prop(title)}::{_data(msg)}")
            if len(lines) >= MAX_ERRORS:
                return lines
    return lines


def summary_markdown(report: Report | dict) -> str:
    """The job summary: scores per exercise, then each failure (student text in code blocks)."""
    report = for_platform(report)
    head = [
        f"## nngrade: {points_text(report.score)} / {report.max_score:g}",
        "",
        "| Exercise | Score | Status |",
        "|---|---:|---|",
    ]
    for ex in report.exercises:
        head.append(f"| {ex.name} | {points_text(ex.score)} / {ex.max_score:g} | {ex.status.value} |")
    parts = ["\n".join(head) + "\n"]
    parts += [f"\n> **Note:** {md_text(str(n))}\n" for n in report.extra.get("notes") or []]
    from grader.feedback.report import failure_groups

    for ex in report.exercises:
        for g in failure_groups(ex.tests):
            block = (
                f"\n### {ex.name}: lost {points_text(g.max_score - g.score)} points "
                f"({len(g.tests)} test{'s' if len(g.tests) > 1 else ''})\n\n" + md_fence(g.message, "text") + "\n"
            )
            if g.hint:
                block += "\nHint:\n\n" + md_fence(g.hint, "text") + "\n"
            parts.append(block)
    text, size = "", 0
    for i, part in enumerate(parts):
        n = len(part.encode())
        if size + n > SUMMARY_LIMIT:
            text += f"\n_{len(parts) - i} more failure groups left out (GitHub's 1 MiB summary limit)._\n"
            break
        text += part
        size += n
    return text


def output_line(report: Report | dict, prefix: str = "") -> str:
    payload = classroom_payload(report, prefix)
    data = base64.b64encode(json.dumps(payload).encode()).decode()
    while len(data) > OUTPUT_LIMIT and any(t["message"] for t in payload["tests"]):
        for t in payload["tests"]:
            t["message"] = t["message"][:100]
        data = base64.b64encode(json.dumps(payload).encode()).decode()
    return f"result={data}\n"


def publish(report: Report | dict, text: str, stream, env=None, prefix: str = "") -> None:
    """Write ``text`` (the rendered report) to ``stream`` with workflow commands
    stopped, then the annotations; append the summary and the Classroom output."""
    env = os.environ if env is None else env
    token = secrets.token_hex(16)
    stream.write(f"::stop-commands::{token}\n")
    stream.write(text if text.endswith("\n") else text + "\n")
    stream.write(f"::{token}::\n")
    for line in annotations(report, prefix):
        stream.write(line + "\n")
    stream.flush()
    if env.get("GITHUB_STEP_SUMMARY"):
        with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as f:
            f.write(summary_markdown(report))
    if env.get("GITHUB_OUTPUT"):
        with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as f:
            f.write(output_line(report, prefix))
