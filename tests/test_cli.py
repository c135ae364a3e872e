"""The `grade` command as a student and CI use it, and how it explains broken files."""

import json
import sys

import pytest

from tests.conftest import ROOT, exercise_of, run_cli


def test_help_teaches():
    r = run_cli("--help")
    assert r.returncode == 0
    for text in ("exercise3_cross_entropy.py", "grade exercise3", "--format json", "exit status", "grade batch"):
        assert text in r.stdout


def test_help_names_the_exercises_of_the_course_in_use():
    """The help of grade and of a command taking --exercises names the course's exercises, not the nine."""
    course = str(ROOT / "examples" / "course")
    assert "exercise1 … exercise9 (or just 1 … 9)" in run_cli("--help").stdout
    for args in (("--course", course, "--help"), ("batch", "--course", course, "--help")):
        shown = " ".join(run_cli(*args).stdout.split())
        assert "exercise1 … exercise4 (or just 1 … 4)" in shown and "exercise9" not in shown, args


@pytest.mark.parametrize(
    "args,needle",
    [
        (["exercise42"], "no exercise called 'exercise42'"),
        (["all", "--submission", "/nonexistent/folder"], "does not exist"),
        (["exercise1", "--output", "report.xyz"], "cannot tell the format"),
    ],
)
def test_user_mistakes_get_one_clear_line(args, needle):
    r = run_cli(*args)
    assert r.returncode == 2
    assert needle in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_json_report_for_the_model_answer(tmp_path):
    out = tmp_path / "r.json"
    r = run_cli("exercise1", "--submission", ROOT / "solutions", "--output", out)
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert report["score"] == report["max_score"] == 10.0
    (ex,) = report["exercises"]
    assert ex["name"] == "exercise1" and ex["score"] == 10.0
    for t in ex["tests"]:
        assert set(t) >= {"name", "status", "score", "max_score", "message", "hint"}
        assert t["status"] in ("passed", "failed", "error", "skipped")
    assert abs(sum(t["max_score"] for t in ex["tests"]) - 10.0) < 1e-3


@pytest.mark.slow
def test_text_report_for_a_stub_explains_and_exits_1():
    r = run_cli("exercise1", "--submission", ROOT / "exercises")
    assert r.returncode == 1
    assert "not implemented yet" in r.stdout and "Total: 0.00 / 10" in r.stdout
    assert "Traceback" not in r.stdout + r.stderr


@pytest.mark.slow
def test_html_report_puts_the_score_first(tmp_path):
    out = tmp_path / "r.html"
    r = run_cli("exercise1", "--submission", ROOT / "solutions", "-o", out)
    assert r.returncode == 0
    html = out.read_text()
    assert html.index("10.00") < html.index("exercise1")


BROKEN = {
    "syntax": (b"import torch\n\ndef softmax(x)\n    return x\n", ["exercise1_softmax.py, line 3", "SyntaxError"]),
    "encoding": (b"import torch\n# caf\xe9\ndef softmax(x):\n    return x\n", ["line 2", "not UTF-8"]),
    "missing-name": (b"import torch\ndef soft_max(x):\n    return x\n", ["defines no `softmax`", "soft_max"]),
    "signature": (b"import torch\ndef softmax(x, dim):\n    return x\n", ["TypeError", "softmax(x, dim)"]),
    "import-error": (b"import numpyy\n", ["ModuleNotFoundError", "numpyy"]),
    "sibling-import": (
        b"from exercise2_log_softmax import log_softmax\n",
        ["ModuleNotFoundError", "graded on its own"],
    ),
    "raises": (b"def softmax(x):\n    return 1 / 0\n", ["ZeroDivisionError", "line 2"]),
    "returns-none": (b"def softmax(x):\n    x.exp()\n", ["returned None", "return"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", BROKEN)
def test_broken_files_get_a_message_not_a_traceback(grade_folder, submission, kind):
    source, needles = BROKEN[kind]
    report = grade_folder(submission({"exercise1_softmax.py": source}), "exercise1")
    ex = exercise_of(report, "exercise1")
    assert ex["score"] == 0
    text = ex["message"] + ex["hint"] + "".join(t["message"] + t["hint"] for t in ex["tests"])
    for needle in needles:
        assert needle in text, (needle, text[:2000])
    assert "Traceback" not in text and "internal grader error" not in text


def test_missing_file_scores_zero_with_a_clear_message(grade_folder, tmp_path):
    report = grade_folder(tmp_path, "exercise1")
    ex = exercise_of(report, "exercise1")
    assert ex["score"] == 0 and ex["status"] == "missing"
    assert "exercise1_softmax.py is not in the submission folder" in ex["message"]


@pytest.mark.slow
def test_same_submission_and_seed_give_the_same_report(grade_folder, submission):
    # a wrong answer, so the report holds numbers that depend on the inputs
    folder = submission({"exercise1_softmax.py": "import torch\ndef softmax(x):\n    return torch.exp(x) / 3\n"})
    first = grade_folder(folder, "exercise1", seed=7)
    second = grade_folder(folder, "exercise1", seed=7)
    other = grade_folder(folder, "exercise1", seed=8)
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    assert json.dumps(first, sort_keys=True) != json.dumps(other, sort_keys=True)


def test_server_help_documents_the_warm_server():
    r = run_cli("server", "--help")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    for text in ("grade server status|stop", "GRADER_SERVER_IDLE=SECONDS", "GRADER_NO_SERVER=1", "500 MB", "for good"):
        assert text in r.stdout, text
    main_help = run_cli("--help").stdout
    assert "GRADER_SERVER_IDLE" in main_help and "GRADER_NO_SERVER=1" in main_help and "500 MB" in main_help


def test_a_folder_with_only_a_notebook_says_how_to_check_it(tmp_path):
    (tmp_path / "course.ipynb").write_text("{}")
    r = run_cli("exercise3", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "but there is course.ipynb: to check it, run grade exercise3 --submission course.ipynb" in r.stderr


def _dist(site, name):
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")


def test_both_editions_clash_only_when_one_folder_holds_both(tmp_path, monkeypatch):
    """A student venv made with --system-site-packages sees the instructor's edition in the
    system's site-packages, below its own student edition (the one imported): no clash. Both in
    one site-packages (the one installed last replaced the other's files): a clash."""
    from grader.cli import _both_editions

    venv, system = tmp_path / "venv", tmp_path / "system"
    _dist(venv, "nngrade-student")
    _dist(system, "nngrade")
    monkeypatch.setattr(sys, "path", [str(venv), str(system)])
    assert _both_editions() is None
    _dist(venv, "nngrade")
    clash = _both_editions()
    assert clash and clash.startswith("both nngrade (the instructor's edition) and nngrade-student")
