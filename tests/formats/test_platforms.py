"""Platform formats (grader.formats): each checked against its platform's own
field list, and against a hostile submission that prints workflow commands,
Gradescope-looking JSON, HTML and Markdown.

One report is graded once (``reports``): exercise 1 hostile (it raises and
prints such text), exercise 3 buggy, exercise 5 missing, exercise 2 correct.
The Gradescope bundle is run laid out as /autograder in a temporary root.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.batch.output import state_file
from tests.conftest import ROOT, run_cli

# Slow by design: each test reads what a cold `grade`, a batch or Gradescope's runner wrote (the fast
# tier checks the formats on saved reports, tests/formats/test_consumers.py).
pytestmark = pytest.mark.slow

SOLUTIONS = ROOT / "solutions"
EX1, EX2, EX3, EX5 = (
    "exercise1_softmax.py",
    "exercise2_log_softmax.py",
    "exercise3_cross_entropy.py",
    "exercise5_relu.py",
)
FORGED = '::notice title=Autograding report::{"totalPoints":100,"maxPoints":100}'
HOSTILE = f"""\
import sys
print({FORGED!r})
print('{{"score": 100.0, "tests": [], "output_format": "html"}}')
print('<script>alert(1)</script> **bold** [x](http://evil) ```')
sys.stderr.write("::error file=x.py,line=1::forged\\n::stop-commands::abc\\n")

def softmax(x):
    raise ValueError({FORGED!r} + '\\n</pre><img src=x onerror=alert(1)>\\n```\\n# Heading\\n%0A::add-mask::x\\n<!-- -->]]>')
"""
BUGGY_CE = (
    "import torch\n\ndef cross_entropy(logits, targets):\n"
    "    lp = logits - logits.logsumexp(-1, keepdim=True)\n    return -lp[:, targets].mean()\n\n"
    "class CrossEntropyLoss(torch.nn.Module):\n    def forward(self, h, y):\n        return cross_entropy(h, y)\n"
)
STUDENT_TEXT = ("<script>", "<img", "# Heading", "totalPoints", "add-mask")


def grade_json(folder: Path, *exercises, env=None) -> dict:
    r = subprocess.run(
        [sys.executable, "-m", "grader.cli", *exercises, "--submission", str(folder), "--format", "json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env=dict(os.environ, **(env or {})),
    )
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    (d / EX1).write_text(HOSTILE)
    (d / EX2).write_text((SOLUTIONS / EX2).read_text())
    (d / EX3).write_text(BUGGY_CE)
    return d


@pytest.fixture(scope="module")
def report(hostile_folder):
    return grade_json(hostile_folder, "1", "2", "3", "5")


# ---------------------------------------------------------------------------
# Gradescope (gradescope/autograder_samples docs/specs.md "Output format")

GS_TOP = {
    "score": float,
    "execution_time": (int, float),
    "output": str,
    "output_format": str,
    "test_output_format": str,
    "test_name_format": str,
    "visibility": str,
    "stdout_visibility": str,
    "extra_data": dict,
    "tests": list,
    "leaderboard": list,
}
GS_TEST = {
    "score": float,
    "max_score": float,
    "status": str,
    "name": str,
    "name_format": str,
    "number": str,
    "output": str,
    "output_format": str,
    "tags": list,
    "visibility": str,
    "extra_data": dict,
}
GS_FORMATS = {"text", "html", "simple_format", "md", "ansi"}
GS_VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def check_gradescope(doc: dict) -> None:
    assert set(doc) <= set(GS_TOP), set(doc) - set(GS_TOP)
    for k, v in doc.items():
        assert isinstance(v, GS_TOP[k]), (k, v)
    assert "score" in doc or all("score" in t for t in doc["tests"])
    assert doc.get("output_format", "simple_format") in GS_FORMATS
    assert doc.get("stdout_visibility", "hidden") in GS_VISIBILITY
    for t in doc.get("tests", []):
        assert set(t) <= set(GS_TEST), set(t) - set(GS_TEST)
        for k, v in t.items():
            assert isinstance(v, GS_TEST[k]), (k, v)
        assert t["status"] in ("passed", "failed")
        assert t.get("output_format", "text") in GS_FORMATS and t.get("visibility", "visible") in GS_VISIBILITY
        assert re.fullmatch(r"\d+\.\d+", t["number"])
        assert 0 <= t["score"] <= t["max_score"] + 1e-9


def outside_fences(md: str) -> str:
    """Markdown with its fenced code blocks removed (what would render as Markdown/HTML)."""
    out, fence = [], None
    for line in md.splitlines():
        m = re.match(r"^(`{3,})", line)
        if fence is None and m:
            fence = m.group(1)
        elif fence is not None and line.strip() == fence:
            fence = None
        elif fence is None:
            out.append(line)
    return "\n".join(out)


def test_gradescope_results_follow_the_spec(report):
    from grader.formats.gradescope import results

    doc = results(report, execution_time=12.3)
    check_gradescope(doc)
    assert doc["score"] == report["score"] and doc["execution_time"] == 12
    assert abs(sum(t["score"] for t in doc["tests"]) - report["score"]) < 0.05
    counted = [t for ex in report["exercises"] for t in ex["tests"] if t["status"] != "skipped"]
    assert len(doc["tests"]) == len(counted)
    vis = {t["visibility"] for t in doc["tests"]}
    assert vis == {"visible", "after_published"}
    assert {t["visibility"] for t in results(report, hidden_visibility="hidden")["tests"]} == {"visible", "hidden"}
    failed = [t for t in doc["tests"] if t["status"] == "failed"]
    assert any("logsumexp" in t["output"] or "picks an (n, n) block" in t["output"] for t in failed)
    # hostile text stays inside code blocks, and no advice for a terminal
    for t in doc["tests"]:
        assert not any(x in outside_fences(t["output"]) for x in STUDENT_TEXT), t["output"]
    assert "--submission" not in json.dumps(doc)


# ---------------------------------------------------------------------------
# PrairieLearn (docs/externalGrading.md "Grading results")


def check_prairielearn(doc: dict) -> None:
    assert isinstance(doc.get("gradable", True), bool)
    if doc.get("gradable", True):
        assert isinstance(doc["score"], float) and 0.0 <= doc["score"] <= 1.0
        for t in doc.get("tests", []):
            assert {"name", "points", "max_points"} <= set(t), t
            assert set(t) <= {"name", "description", "points", "max_points", "message", "output", "images"}
            assert isinstance(t["points"], float) and isinstance(t["max_points"], float)
    else:
        fe = doc["format_errors"]
        assert isinstance(fe, str) or (isinstance(fe, list) and all(isinstance(x, str) for x in fe))
    for k in ("message", "output"):
        assert isinstance(doc.get(k, ""), str)
    assert len(json.dumps(doc).encode()) < 1_000_000


def test_prairielearn_results_follow_the_spec(report):
    from grader.formats.prairielearn import results

    doc = results(report)
    check_prairielearn(doc)
    assert doc["gradable"] is True and abs(doc["score"] - report["score"] / report["max_score"]) < 1e-9
    # nothing readable: not gradable, with the reason
    empty = dict(
        report,
        exercises=[
            dict(ex, status="missing", message=f"{ex['file']} is not in the submission") for ex in report["exercises"]
        ],
    )
    doc = results(empty)
    check_prairielearn(doc)
    assert doc["gradable"] is False and "score" not in doc and "not in the submission" in doc["format_errors"][0]


# ---------------------------------------------------------------------------
# JUnit XML: the structure CI reporters read (Jenkins' junit-10.xsd rules and the reporters'
# parsers: tests/formats/test_consumers.py)


def test_junit_is_valid_and_complete(report):
    import xml.etree.ElementTree as ET

    from grader.formats.common import platform_data
    from grader.formats.junit import render
    from tests.formats.test_consumers import junit10_violations

    assert junit10_violations(render(report, prefix="hw/")) == []
    text = render(report, prefix="hw/", family="legacy")  # file, line and the test-case properties
    report = platform_data(report)  # what the renderer shows: no terminal advice
    assert "<script>" not in text and "<img" not in text and "]]>" not in text  # student text is escaped
    assert "&lt;script&gt;" in text or "&lt;img" in text  # and still shown
    root = ET.fromstring(text)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [ex["name"] for ex in report["exercises"]]
    for s, ex in zip(suites, report["exercises"]):
        cases = s.findall("testcase")
        assert len(cases) == len(ex["tests"]) == int(s.get("tests"))
        assert {c.get("classname") for c in cases} == {ex["name"]}
        assert all(c.get("file") == "hw/" + ex["file"] for c in cases)
        assert s.get("file") == "hw/" + ex["file"]  # the suite's file as its cases' (from the repository's root)
        for c, t in zip(cases, ex["tests"]):
            props = {p.get("name"): float(p.get("value")) for p in c.find("properties")}
            assert props == {"score": t["score"], "max_score": t["max_score"]}
            child = [e.tag for e in c if e.tag not in ("properties", "system-out")]
            assert child == {"passed": [], "skipped": ["skipped"], "failed": ["failure"], "error": ["error"]}[
                t["status"]
            ] or (t["status"] == "failed" and child == ["error"])
            if t["status"] in ("failed", "error"):
                el = c.find(child[0])
                assert el.text.count(t["message"].splitlines()[0]) >= 1
                assert not t["hint"] or t["hint"] in el.text
        assert int(s.get("failures")) + int(s.get("errors")) == sum(
            t["status"] in ("failed", "error") for t in ex["tests"]
        )
    # exercise 1's failures are placed on the line of the student's raise
    ex1 = suites[0].findall("testcase")
    assert any(c.get("line") == "8" for c in ex1), [c.get("line") for c in ex1]


# ---------------------------------------------------------------------------
# GitHub Actions + Classroom


def test_classroom_payload_is_what_the_reporter_reads(report):
    from grader.formats.github import classroom_payload, output_line

    p = classroom_payload(report)
    assert set(p) == {"version", "status", "max_score", "tests"} and p["version"] == 1
    assert p["status"] in ("pass", "fail", "error") and p["max_score"] == report["max_score"]
    for t in p["tests"]:
        assert {"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"} == set(t)
        assert t["status"] in ("pass", "fail", "error") and isinstance(t["score"], float)
    # the reporter's NotifyClassroom: total = sum(tests[].score), max = max_score
    assert abs(sum(t["score"] for t in p["tests"]) - report["score"]) < 1e-6
    line = output_line(report)
    assert line.startswith("result=") and line.endswith("\n") and "\n" not in line[:-1]
    assert json.loads(base64.b64decode(line[len("result=") :])) == json.loads(json.dumps(p))


def test_github_actions_run_is_annotated_and_cannot_be_forged(hostile_folder, tmp_path):
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    env = dict(
        os.environ,
        GITHUB_ACTIONS="true",
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_OUTPUT=str(output),
        GITHUB_WORKSPACE=str(hostile_folder.parent),
    )
    r = subprocess.run(
        [sys.executable, "-m", "grader.cli", "1", "3", "--submission", str(hostile_folder), "--exit-zero"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert r.returncode == 0, r.stderr  # --exit-zero: points lost, the grader did not fail
    lines = r.stdout.splitlines()
    m = re.fullmatch(r"::stop-commands::([0-9a-f]{32})", lines[0])
    assert m, lines[0]
    end = lines.index(f"::{m.group(1)}::")
    # every line GitHub would read as a command is ours: none inside the stopped block counts,
    # and after it only our annotations
    after = lines[end + 1 :]
    assert after and all(ln.startswith(f"::error file={hostile_folder.name}/") for ln in after), after
    assert len(after) <= 10
    assert all(re.match(r"::error file=[^,:]+,line=\d+,title=[^:]*::", ln) for ln in after)
    assert not any(
        "Autograding report" in ln.split("::", 3)[2]
        for ln in after
        if ln.count("::") >= 3 and ln.startswith("::notice")
    )
    assert "Points 100/100" not in "\n".join(ln for ln in lines if not ln.startswith("::error")) or FORGED in "\n".join(
        lines[1:end]
    )
    assert FORGED.split("::")[1] in "\n".join(lines[1:end])  # the student's text is shown, inside the block
    md = summary.read_text()
    assert len(md.encode()) < 1 << 20 and md.startswith("## nngrade: ")
    assert not any(x in outside_fences(md) for x in STUDENT_TEXT), outside_fences(md)
    key, value = output.read_text().strip().split("=", 1)
    assert key == "result"
    payload = json.loads(base64.b64decode(value))
    assert payload["tests"][0]["filename"] == f"{hostile_folder.name}/{EX1}" and payload["tests"][0]["line_no"] == 8
    assert "--submission" not in r.stdout + md


@pytest.mark.parametrize(
    "fmt,parse", [("gradescope", json.loads), ("prairielearn", json.loads), ("classroom", json.loads), ("junit", None)]
)
def test_grade_writes_each_platform_format(fmt, parse, tmp_path):
    (tmp_path / EX1).write_text((SOLUTIONS / EX1).read_text())
    out = tmp_path / "out.txt"
    r = run_cli("1", "--submission", tmp_path, "--format", fmt, "--output", out)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    if parse:
        doc = parse(text)
        {"gradescope": check_gradescope, "prairielearn": check_prairielearn}.get(fmt, lambda d: None)(doc)
    else:
        import xml.etree.ElementTree as ET

        assert ET.fromstring(text).tag == "testsuites"
        assert all("file" not in c.attrib for c in ET.fromstring(text).iter("testcase"))
        r = run_cli("1", "--submission", tmp_path, "--format", fmt, "--junit-family", "legacy", "--output", out)
        assert r.returncode == 0, r.stderr
        assert all(c.get("file") == EX1 for c in ET.fromstring(out.read_text()).iter("testcase"))


# ---------------------------------------------------------------------------
# Canvas


def test_canvas_gradebook_with_a_roster(tmp_path):
    from grader.exercises import lookup
    from grader.feedback.records import GradeRow
    from grader.formats.canvas import gradebook, read_roster

    roster_csv = tmp_path / "roster.csv"
    roster_csv.write_text(
        "Student,ID,SIS User ID,SIS Login ID,Section\n    Points Possible,,,,\n"
        '"Lovelace, Ada",101,S1,ada@uni.edu,A\nBen Bitdiddle,102,S2,bbit,A\nDan Doe,103,S3,dan,B\n'
    )
    roster = read_roster(roster_csv)
    assert [r["Student"] for r in roster] == ["Lovelace, Ada", "Ben Bitdiddle", "Dan Doe"]
    rows = [
        {"student": "ada", "status": "graded", "score": 15.5, "exercises": {"exercise1": 10.0, "exercise2": 5.5}},
        {"student": "S2", "status": "graded", "score": 3.0, "exercises": {"exercise1": 3.0, "exercise2": 0.0}},
        {"student": "=cmd|evil", "status": "graded", "score": 1.0, "exercises": {"exercise1": 1.0}},
        {"student": "zed", "status": "error", "reason": "empty"},
    ]
    rows = [GradeRow.from_dict(r) for r in rows]
    exs = [lookup("1"), lookup("2")]
    text, unmatched = gradebook(rows, exs, roster=roster, columns="exercises", assignment="Homework 3 (12345)")
    got = list(csv.reader(io.StringIO(text)))
    assert got[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "Homework 3: exercise1 Softmax",
        "Homework 3: exercise2 Log-softmax",
    ]
    assert got[1] == ["Points Possible", "", "", "", "", "10", "10"]
    assert got[2:] == [
        ["Lovelace, Ada", "101", "S1", "ada@uni.edu", "A", "10.00", "5.50"],
        ["Ben Bitdiddle", "102", "S2", "bbit", "A", "3.00", "0.00"],
        ["Dan Doe", "103", "S3", "dan", "B", "", ""],
    ]  # no submission: no score
    assert unmatched == ["=cmd|evil", "zed"]  # listed, not dropped silently
    text, _ = gradebook(rows, exs, columns="total", assignment="Homework 3 (12345)")
    got = list(csv.reader(io.StringIO(text)))
    assert got[0][5:] == ["Homework 3 (12345)"] and got[1][5:] == ["20"]
    assert ["'=cmd|evil", "", "", "'=cmd|evil", "", "1.00"] in got  # no formula runs in a spreadsheet


# ---------------------------------------------------------------------------
# the Gradescope bundle, run laid out as /autograder


def run_bundle(bundle: Path, root: Path, files: dict) -> dict:
    (root / "source").mkdir(parents=True)
    (root / "submission").mkdir()
    with zipfile.ZipFile(bundle) as z:
        z.extractall(root / "source")
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    for name, data in files.items():  # a Path: a symbolic link to it
        p = root / "submission" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, Path):
            os.symlink(data, p)
        else:
            p.write_bytes(data if isinstance(data, bytes) else data.encode())
    env = dict(os.environ, AUTOGRADER_ROOT=str(root))
    env.pop("PYTHONPATH", None)
    r = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads((root / "results" / "results.json").read_text())
    check_gradescope(doc)
    return doc


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "autograder.zip"
    r = run_cli("autograder", "--out", out, "--exercises", "1", "3", "--timeout-scale", "1")
    assert r.returncode == 0, r.stderr
    names = zipfile.ZipFile(out).namelist()
    assert {"setup.sh", "run_autograder", "grader/cli.py", "grader/suites/test_exercise1_softmax.py"} <= set(names)
    assert "768 MB" in zipfile.ZipFile(out).read("setup.sh").decode()
    return out


def test_bundle_model_answer_in_nested_folders(bundle, tmp_path):
    doc = run_bundle(
        bundle,
        tmp_path,
        {"hw/src/" + EX1: (SOLUTIONS / EX1).read_text(), "hw/src/" + EX3: (SOLUTIONS / EX3).read_text()},
    )
    assert doc["score"] == 20.0 and all(t["status"] == "passed" for t in doc["tests"]) and doc["tests"]


def test_bundle_buggy_zip_and_hostile_output(bundle, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mine/" + EX1, HOSTILE)
        z.writestr("mine/" + EX3, BUGGY_CE)
    doc = run_bundle(bundle, tmp_path, {"submission.zip": buf.getvalue()})
    # the hostile exercise 1 earns nothing, the buggy cross-entropy only its one-class cases (1.00)
    assert doc["score"] <= 1.0 and any(t["status"] == "failed" for t in doc["tests"])
    assert doc["stdout_visibility"] == "hidden"
    for t in doc["tests"]:
        assert not any(x in outside_fences(t["output"]) for x in STUDENT_TEXT)


def test_bundle_notebook(bundle, tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# My homework"),
            nbformat.v4.new_code_cell("# exercise1\n%matplotlib inline\n" + (SOLUTIONS / EX1).read_text()),
            nbformat.v4.new_code_cell("!pip install nothing\n" + BUGGY_CE, metadata={"tags": ["exercise3"]}),
        ]
    )
    doc = run_bundle(bundle, tmp_path, {"homework.ipynb": nbformat.writes(nb)})
    by_ex = {}
    for t in doc["tests"]:
        by_ex.setdefault(t["tags"][0], []).append(t)
    assert all(t["status"] == "passed" for t in by_ex["exercise1"])
    assert any(t["status"] == "failed" for t in by_ex["exercise3"])
    # read as grade reads a notebook (grader.submission.reader): the removed magics are noted
    assert "'%matplotlib inline'" in doc["output"] and "'!pip install nothing'" in doc["output"]


def test_bundle_refuses_a_symlinked_exercise_file(bundle, tmp_path):
    """The bundle reads a submission as `grade` does: an exercise file that
    is a link (here to the model answer) is refused, 0 for that exercise with the reason."""
    doc = run_bundle(bundle, tmp_path, {"hw/" + EX1: SOLUTIONS / EX1, "hw/" + EX3: (SOLUTIONS / EX3).read_text()})
    assert {t["tags"][0] for t in doc["tests"]} == {"exercise3"}  # no test of exercise 1 ran
    assert all(t["status"] == "passed" for t in doc["tests"]) and doc["score"] == 10.0
    line = next(ln for ln in doc["output"].splitlines() if ln.startswith("- exercise1"))
    assert "0.00 / 10" in line and "symbolic link" in line and "not followed" in line, line


def test_bundle_empty_submission_still_writes_results(bundle, tmp_path):
    doc = run_bundle(bundle, tmp_path, {})
    assert doc["score"] == 0.0 and doc["tests"] == [] and "empty" in doc["output"]


# ---------------------------------------------------------------------------
# grade batch: --only, resuming an interrupted --force run, --roster


def test_batch_only_resume_and_roster(tmp_path):
    from grader.batch.command import _resume_command
    from tests.batch.test_batch import COMMON, batch, write

    subs, out = tmp_path / "subs", tmp_path / "out"
    for s in ("ada", "ben", "cy"):
        write(subs / s, {EX1: (SOLUTIONS / EX1).read_text(), EX2: (SOLUTIONS / EX2).read_text()})
    write(subs / "nemo", {EX1: "def softmax(x)\n    return x\n"})  # a syntax error: no misconception
    roster = tmp_path / "roster.csv"
    roster.write_text(
        'Student,ID,SIS User ID,SIS Login ID,Section\n"Lovelace, Ada",1,S1,ada,A\n'
        "Ben B,2,S2,ben@uni.edu,A\nCy C,3,cy,ccc,B\nDan D,4,S4,dan,B\n"
    )
    r = batch(subs, "--out", out, *COMMON, "--roster", roster)
    assert r.returncode == 0, r.stderr
    assert "4 to grade" in r.stderr and "every entry graded" in r.stderr.splitlines()[-1]
    assert "nemo" in r.stderr and "match no roster student" in r.stderr
    rows = list(csv.reader(open(out / "grades.csv", newline="")))
    assert [row[0] for row in rows] == ["Student", "Points Possible", "Lovelace, Ada", "Ben B", "Cy C", "Dan D"]
    assert rows[5][5:] == ["", ""] and rows[4][5:] == ["10.00", "10.00"]
    data = json.loads((out / "summary.json").read_text())
    assert data["roster"] == {"used": True, "unmatched": ["nemo"], "without_submission": ["Dan D"]}
    assert not any("cannot read" in h["hint"] for h in data["hints"]), data["hints"]
    assert [s["student"] for s in data["students_list"]] == ["ada", "ben", "cy", "nemo"]
    assert "Dan D" in (out / "summary.html").read_text()

    # --only regrades just the named students, even unchanged
    r = batch(subs, "--out", out, *COMMON, "--only", "ben")
    assert r.returncode == 0 and "1 to grade, 3 unchanged" in r.stderr, r.stderr
    r = batch(subs, "--out", out, *COMMON, "--only", "zoe")
    assert r.returncode == 2 and "zoe" in r.stderr

    # a --force run interrupted after regrading ada: its marker stays, ada's state carries the run
    marker = out / ".batch" / "regrade.json"
    marker.write_text(json.dumps({"run": "r1", "only": None}))
    state = state_file(out, "ada")
    st = json.loads(state.read_text())
    state.write_text(json.dumps(dict(st, run="r1")))
    advice = _resume_command([str(subs), "--out", str(out), "--force", *COMMON])
    assert "--force" not in advice
    r = batch(*advice)  # the advice: the same command without --force
    assert r.returncode == 0 and "3 to grade, 1 unchanged" in r.stderr, r.stderr
    assert not marker.exists()
    r = batch(*advice)  # done: nothing left to regrade
    assert "0 to grade, 4 unchanged" in r.stderr, r.stderr
    assert _resume_command(["s", "--only", "a", "b", "--out", "o"]) == ["s", "--out", "o"]


def test_reports_for_a_batch_or_a_platform_give_no_terminal_advice(report):
    from grader.formats.common import platform_data

    assert "--submission" in json.dumps(report)  # the student's own report does (exercise5 is missing)
    fixed = json.dumps(platform_data(report))
    assert "--submission" not in fixed and "Submit your work as exercise5_relu.py" in fixed


def test_bundle_writes_valid_results_when_the_grader_cannot_run(bundle, tmp_path):
    """The grader's own failure (here: its program is missing) still leaves a valid results.json."""
    (tmp_path / "source" / "grader" / "formats").mkdir(parents=True)
    (tmp_path / "source" / "grader" / "formats" / "autograder.py").write_text("raise SystemExit(7)\n")
    with zipfile.ZipFile(bundle) as z:  # the rest of the bundle as usual; the program replaced above
        for name in z.namelist():
            if name != "grader/formats/autograder.py":
                z.extract(name, tmp_path / "source")
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / EX1).write_text((SOLUTIONS / EX1).read_text())
    env = dict(os.environ, AUTOGRADER_ROOT=str(tmp_path))
    r = subprocess.run(
        ["bash", str(tmp_path / "source" / "run_autograder")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0
    doc = json.loads((tmp_path / "results" / "results.json").read_text())
    check_gradescope(doc)
    assert doc["score"] == 0.0 and "exit status 7" in doc["output"]


def test_an_interrupted_force_run_resumes_with_the_advice_it_prints(tmp_path):
    import shlex
    import signal

    from tests.batch.test_batch import COMMON, batch, write

    subs, out = tmp_path / "subs", tmp_path / "out"
    for i in range(5):
        write(subs / f"s{i}", {EX1: (SOLUTIONS / EX1).read_text()})
    args = [str(subs), "--out", str(out), *COMMON]
    assert batch(*args).returncode == 0
    env = dict(os.environ, CI="true")
    p = subprocess.Popen(
        [sys.executable, "-m", "grader.cli", "batch", *args, "--force", "--jobs", "1"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for line in p.stderr:  # plain progress lines (CI): stop after the first result
        if "[1/5]" in line:
            p.send_signal(signal.SIGINT)
            break
    rest = p.stderr.read()
    assert p.wait(60) == 130, rest
    advice = rest.strip().splitlines()[-1].strip()
    assert advice.startswith("grade batch ") and "--force" not in advice, rest
    done = sum("run" in json.loads(f.read_text()) for f in (out / ".batch" / "state").glob("*.json"))
    assert 1 <= done < 5
    r = batch(*shlex.split(advice)[2:])
    assert f"{5 - done} to grade, {done} unchanged" in r.stderr, r.stderr  # the rest of the forced regrade
    r = batch(*shlex.split(advice)[2:])
    assert "0 to grade, 5 unchanged" in r.stderr, r.stderr


# ---------------------------------------------------------------------------
# report notes (what reading did: a notebook's magics removed) are student text too

HOSTILE_NOTEBOOK = "hw\x1b[2J\n::error::named.ipynb"  # a notebook's name is the student's, in the notes


@pytest.fixture(scope="module")
def noted_report(tmp_path_factory):
    import nbformat

    d = tmp_path_factory.mktemp("noted")
    cell = (
        "# exercise1\n!echo ::error::forged\n%env X=\x1b[31mred\x1b]52;c;ZXZpbA==\x07\n" + (SOLUTIONS / EX1).read_text()
    )
    (d / HOSTILE_NOTEBOOK).write_text(
        nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)]))
    )
    return grade_json(d, "1")


def test_notes_are_inert_in_every_format(noted_report):
    import xml.etree.ElementTree as ET

    from grader.feedback.report import render
    from grader.formats import render as platform
    from grader.formats.github import summary_markdown
    from tests.formats.test_consumers import junit10_violations

    notes = noted_report["notes"]
    assert exercise_score(noted_report, "exercise1") == 10.0
    assert any("::error::forged" in n for n in notes) and any("\x1b[2J\n::error::named" in n for n in notes), notes
    shown = {fmt: render(noted_report, fmt) for fmt in ("text", "markdown", "html")}
    shown["text, coloured"] = re.sub(r"\x1b\[\d+m", "", render(noted_report, "text", color=True))
    shown["gradescope"] = json.loads(platform(noted_report, "gradescope"))["output"]
    shown["prairielearn"] = json.loads(platform(noted_report, "prairielearn"))["output"]
    junit = platform(noted_report, "junit")
    assert junit10_violations(junit) == []
    shown["junit"] = ET.fromstring(junit).find("testsuite/system-out").text
    shown["github summary"] = summary_markdown(noted_report)
    for fmt, out in shown.items():
        assert "echo ::error::forged" in out, (fmt, out)  # shown ...
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out), (fmt, out)  # ... no escape sequence acts
        assert "\\x1b[2J" in out, (fmt, out)  # (shown escaped)
        for line in out.splitlines():  # ... no CI runner obeys a line
            assert not line.lstrip().startswith(("::", "##[")), (fmt, line)
    for fmt in ("markdown", "gradescope", "github summary"):  # a note is one line of prose
        assert len([ln for ln in shown[fmt].splitlines() if "::error::named" in ln]) == 1, fmt


def exercise_score(report: dict, name: str) -> float:
    return next(ex["score"] for ex in report["exercises"] if ex["name"] == name)


def test_bundle_reads_the_one_file_uploaded_else_the_folder(tmp_path):
    """What run_autograder hands to grader.submission.reader.read: the folder when it holds an exercise
    file, else the one zip, else the one notebook or .py among other files."""
    from grader.formats.autograder import target
    from grader.submission.errors import BadEntry

    cases = {
        ("a/" + EX1, "b.zip"): ".",
        ("s.zip", "README.md"): "s.zip",
        ("s.zip", "x.py"): "s.zip",
        ("hw/all.py",): "hw/all.py",
        ("nb.ipynb", "helper.py"): ".",
        ("one.ipynb", "notes.txt"): "one.ipynb",
    }
    for i, (files, want) in enumerate(cases.items()):
        d = tmp_path / str(i)
        for f in files:
            (d / f).parent.mkdir(parents=True, exist_ok=True)
            (d / f).write_text("x")
        assert os.path.relpath(target(d), d) == want, files
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadEntry, match="empty"):
        target(tmp_path / "empty")
