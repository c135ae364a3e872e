"""A renamed exercise file (exercise3.py, a browser's "exercise3_cross_entropy (1).py") is named,
with how to fix it, never a bare "not in the submission"; a batch lists those entries."""

import json
import shutil

import nbformat
import pytest

from grader.exercises import EXERCISES
from grader.submission.reader import near_misses
from tests.conftest import ROOT, run_cli


def test_near_misses_are_recognised():
    ex = {e.number: e for e in EXERCISES}
    found = near_misses(
        ["exercise3.py", "exercise1_softmax (1).py", "notes.py", "exercise12.py", "Exercise2_Log_Softmax.py"], EXERCISES
    )
    assert found == {
        ex[3].file: "exercise3.py",
        ex[1].file: "exercise1_softmax (1).py",
        ex[2].file: "Exercise2_Log_Softmax.py",
    }
    assert near_misses([ex[3].file, "exercise3.py"], EXERCISES[2:3]) == {}  # the right file is there


@pytest.mark.slow
def test_grade_names_the_near_miss_file(tmp_path):
    shutil.copyfile(ROOT / "solutions" / "exercise3_cross_entropy.py", tmp_path / "exercise3_cross_entropy (1).py")
    r = run_cli("3", "--submission", tmp_path, "--no-server", "--format", "json", timeout=300)
    ex = json.loads(r.stdout)["exercises"][0]
    assert ex["status"] == "missing"
    assert "exercise3_cross_entropy (1).py" in ex["message"]
    assert ex["hint"].startswith("Rename exercise3_cross_entropy (1).py to exercise3_cross_entropy.py")


@pytest.mark.slow
def test_batch_lists_near_misses(tmp_path):
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    (subs / "bob").mkdir()
    shutil.copyfile(ROOT / "solutions" / "exercise1_softmax.py", subs / "alice" / "exercise1.py")
    shutil.copyfile(ROOT / "solutions" / "exercise1_softmax.py", subs / "bob" / "exercise1_softmax.py")
    (subs / "carol").mkdir()  # a notebook without exercise 1's cell: said so, not "no .py file"
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("# exercise2\nimport torch\n"))
    nbformat.write(nb, str(subs / "carol" / "course.ipynb"))
    r = run_cli("batch", subs, "--out", tmp_path / "out", "--exercises", "1", "--seed-secret", "s", timeout=600)
    assert r.returncode == 0, r.stderr
    assert "1 entry holds an exercise under a near-miss file name" in r.stderr and "alice: exercise1.py" in r.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["near_misses"] == {"alice": {"exercise1_softmax.py": "exercise1.py"}}
    report = json.loads((tmp_path / "out" / "reports" / "alice.json").read_text())
    assert "Rename exercise1.py to exercise1_softmax.py" in report["exercises"][0]["hint"]
    carol = json.loads((tmp_path / "out" / "reports" / "carol.json").read_text())["exercises"][0]
    assert carol["message"].startswith("no cell of course.ipynb is marked as exercise1"), carol["message"]
