"""The release's course notebook, executed end to end in a real kernel (nbclient), and
the same notebook handed in as a file."""

import ast
import json
import re
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from grader.exercises import EXERCISES
from grader.submission.notebook import course_notebook
from tests.conftest import ROOT, run_cli

# Slow by design: each test builds the student release (a cold `grade release`) or runs IPython.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("nbrelease") / "course"
    r = run_cli("release", "--out", out, timeout=300)
    assert r.returncode == 0, r.stderr
    return out


def _fill(nb, folder):
    """The notebook with each exercise's cell holding the file from ``folder`` (as a student would paste it)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in nb.cells:
        number = cell.metadata.get("nngrade", {}).get("exercise")
        if cell.cell_type == "code" and number:
            cell.source = f"%%exercise {number}\n" + (folder / EXERCISES[number - 1].file).read_text()
    return nb


def _execute(nb, release, monkeypatch):
    """Run every cell in a fresh python3 kernel whose `grader` is the student edition."""
    monkeypatch.setenv("PYTHONPATH", str(release / "package"))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(release)}}).execute()
    checks = {}
    for cell in nb.cells:
        number = cell.metadata.get("nngrade", {}).get("check")
        if number:
            assert cell.source == f"%grade {number}"
            outs = [o for o in cell.outputs if o.output_type == "display_data"]
            assert len(outs) == 1, cell.outputs
            assert "<iframe srcdoc=" in outs[0].data["text/html"]  # the HTML report, inline in Jupyter
            assert "onload=" in outs[0].data["text/html"]  # which grows to its content: no hint hidden
            checks[number] = outs[0].data["text/plain"]  # and as text elsewhere
    assert sorted(checks) == [ex.number for ex in EXERCISES]
    return checks


def test_course_notebook_is_built_by_nbformat_and_valid(release):
    nb = nbformat.read(str(release / "course.ipynb"), as_version=4)
    nbformat.validate(nb)
    assert nb.cells[1].source == "%load_ext grader"
    for ex in EXERCISES:
        md, code, check = [
            c
            for c in nb.cells
            if c.metadata.get("nngrade", {}).get("exercise") == ex.number
            or c.metadata.get("nngrade", {}).get("check") == ex.number
        ]
        first_doc = ast.get_docstring(
            next(
                n
                for n in ast.parse(code.source.split("\n", 1)[1]).body
                if isinstance(n, (ast.FunctionDef, ast.ClassDef))
            )
        )
        assert md.cell_type == "markdown" and f"Exercise {ex.number}" in md.source and first_doc in md.source
        assert code.metadata.tags == [ex.name] and code.source.startswith(f"%%exercise {ex.number}\n")
        assert "NotImplementedError" in code.source and check.source == f"%grade {ex.number}"
    stubs = {ex.file: (ROOT / "exercises" / ex.file).read_text() for ex in EXERCISES}
    assert nbformat.writes(course_notebook(stubs)) == nbformat.writes(nb)  # same course, same notebook


def test_released_notebook_runs_and_every_check_shows_zero(release, monkeypatch):
    nb = nbformat.read(str(release / "course.ipynb"), as_version=4)
    for number, text in _execute(nb, release, monkeypatch).items():
        assert "not implemented yet" in text and "/ 10" not in text, (number, text)  # checks, not points
        assert re.search(r"Total: 0 of \d+ visible checks? passed; the hidden tests decide the grade", text), text
        assert "the hidden tests run when you submit" in text and "submission this notebook" in text


def test_notebook_with_the_model_answers_shows_full_marks_and_grades_the_same_as_a_file(release, monkeypatch, tmp_path):
    nb = _fill(nbformat.read(str(release / "course.ipynb"), as_version=4), ROOT / "solutions")
    for number, text in _execute(nb, release, monkeypatch).items():
        assert f"exercise{number}" in text and "/ 10" not in text, text  # what ran, never points
        assert re.search(r"Total: (\d+) of \1 visible checks? passed; the hidden tests decide the grade", text), text
    monkeypatch.delenv("PYTHONPATH")
    # the executed notebook (outputs and all) handed in as a file: the full grader, same scores as the .py files
    nbformat.write(nb, str(tmp_path / "course.ipynb"))
    reports = {}
    for name, path in (("notebook", tmp_path / "course.ipynb"), ("files", ROOT / "solutions")):
        r = subprocess.run(
            [sys.executable, "-m", "grader.cli", "all", "--submission", str(path), "--format", "json"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=900,
        )
        assert r.returncode == 0, r.stderr
        reports[name] = json.loads(r.stdout)
    nb_report, files_report = reports["notebook"], reports["files"]
    assert nb_report["score"] == files_report["score"] == 90.0
    for a, b in zip(nb_report["exercises"], files_report["exercises"]):
        assert a["score"] == b["score"]
        assert [(t["name"], t["status"]) for t in a["tests"]] == [(t["name"], t["status"]) for t in b["tests"]]
    assert "notes" not in nb_report  # %load_ext grader and %grade N are the notebook's own, nothing to report


IPYTHON = r"""
import sys
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
ip.run_line_magic("load_ext", "grader")
ip.run_cell_magic("exercise", "1", open(sys.argv[1]).read() + "\n!echo never\n")
ip.run_cell("import torch", store_history=True)
ip.run_cell(open(sys.argv[2]).read(), store_history=True)   # exercise 2 without %%exercise: from the history
print("softmax defined in the kernel:", "softmax" in ip.user_ns)
ip.run_line_magic("grade", "1 2")
ip.run_line_magic("grade", "3")
"""


def test_extension_in_a_terminal_ipython_shows_text(tmp_path):
    bug = ROOT / "tests" / "corpus" / "exercise1" / "bug_no_max_subtraction.py"
    r = subprocess.run(
        [sys.executable, "-c", IPYTHON, str(bug), str(ROOT / "solutions" / EXERCISES[1].file)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=900,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    out = r.stdout
    assert r.returncode == 0, r.stderr
    assert "softmax defined in the kernel: True" in out
    ex1 = out[out.index("exercise1  Softmax") : out.index("Total:")]
    assert "10.00 / 10" not in ex1 and "exp() overflowed" in ex1  # the recorded cell, graded in a worker
    assert "not run by the grader: '!echo never'" in out
    assert "exercise2  Log-softmax                       10.00 / 10" in out  # found in the kernel's history
    assert "Run the cell of exercise3 first" in out and "<iframe" not in out


def test_grade_magic_names_the_exercise_cell_and_its_line(monkeypatch):
    """QA: `%grade 2` said `exercise2_log_softmax.py, line 4`, a file the notebook student never had;
    the `%%exercise 2` line is line 1 of the cell, as Jupyter shows it."""
    from grader.commands import magic

    ex = EXERCISES[1]
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setitem(magic._RECORDED, ex.file, "import torch\n\ndef log_softmax(x):\n    return x +* 2\n")
    report, problem = magic.grade_recorded(ex)
    assert report is not None, problem
    entry = report["exercises"][0]
    assert entry["message"].startswith("your %%exercise 2 cell, line 5: SyntaxError"), entry["message"]
    assert ex.file not in entry["message"] + entry["hint"]


def test_grade_magic_takes_a_course(monkeypatch, capsys):
    """`%grade 1 --course DIR` grades the example course's LayerNorm (full marks for the model answer);
    the course stays chosen in the kernel, so `%grade layer_norm` then names the unbiased variance;
    a course folder that is not one is one line."""
    from grader.commands import magic

    course = ROOT / "examples" / "course"
    folder = course / "exercise1_layer_norm"
    bug = folder / "mistakes" / "bug_unbiased_variance.py"
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("GRADER_COURSE", "")  # so that its state before the test comes back after it:
    monkeypatch.delenv("GRADER_COURSE")  # --course sets it in this process
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda data, raw: shown.append(data["text/plain"]))
    monkeypatch.setitem(magic._RECORDED, "exercise1_layer_norm.py", (folder / "solution.py").read_text())
    magic._grade_magic(f"1 --course {course}")
    assert len(shown) == 1 and "exercise1  Layer normalisation" in shown[0], capsys.readouterr().out
    assert "Total: 10.00 / 10" in shown[0], shown[0]
    monkeypatch.setitem(magic._RECORDED, "exercise1_layer_norm.py", bug.read_text())
    magic._grade_magic("layer_norm")
    assert len(shown) == 2 and re.search(bug.read_text().splitlines()[0].removeprefix("# hint: "), shown[1]), shown[1]
    assert "10.00 / 10" not in shown[1]
    capsys.readouterr()
    magic._grade_magic("1 --course /nonexistent/course")
    out = capsys.readouterr().out
    assert out.startswith("%grade: the course folder /nonexistent/course does not exist") and out.count("\n") == 1


SOFTMAX_DIM1 = """import torch


def softmax(x):
    z = x - x.max(dim=1, keepdim=True).values
    return torch.exp(z) / torch.exp(z).sum(dim=1, keepdim=True)
"""


def test_grade_magic_says_what_it_ran_never_a_grade(release, monkeypatch):
    """In a real kernel, with the student edition: a softmax hard-coded to dim=1 passes the visible
    checks (the hidden tests fail it), and %grade says so without a score out of 10; the frame
    grows to its content."""
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook()
    nb.cells = [
        new_code_cell("%load_ext grader"),
        new_code_cell("%%exercise 1\n" + SOFTMAX_DIM1),
        new_code_cell("%grade 1"),
    ]
    monkeypatch.setenv("PYTHONPATH", str(release / "package"))
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(release)}}).execute()
    (out,) = [o for o in nb.cells[2].outputs if o.output_type == "display_data"]
    text, html = out.data["text/plain"], out.data["text/html"]
    assert "Total: 3 of 3 visible checks passed; the hidden tests decide the grade" in text, text
    assert "/ 10" not in text and "10.00" not in text
    assert "onload=" in html and "the hidden tests decide the grade" in html
