"""The example course (examples/course/): check-course passes on it, and each catalogued mistake
of its exercises is named by its own hint when a submission makes it."""
import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

COURSE = ROOT / "examples" / "course"

# the catalogue of the LayerNorm suite: each mistake has a wrong answer in mistakes/, which check-course
# grades (its docstring's "hint:" line is the start of the hint that must name it)
CATALOGUE = {"unbiased_variance", "eps_outside_the_square_root", "last_dimension_only", "affine_left_out",
             "shift_before_scale"}


@pytest.mark.slow
def test_check_course_passes_on_the_example_course():
    r = run_cli("check-course", COURSE, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "exercise1 (Layer normalisation): ok (model answer 10 of 10, stub 0)" in r.stderr
    for mistake in CATALOGUE:  # each catalogued mistake is named by its own hint
        assert f"exercise1: the mistake {mistake}.py is named by its hint" in r.stderr


def test_every_mistake_of_the_catalogue_has_a_wrong_answer_with_its_hint():
    from grader.commands.authoring import mistakes
    from grader.course import load

    course = load(COURSE)
    found = {path.stem: hint for path, hint in mistakes(course, course.exercises[0])}
    assert set(found) == CATALOGUE and all(found.values())
    suite = course.suite_path(course.exercises[0]).read_text()
    assert all(hint in suite for hint in found.values())  # the hint is one the suite gives


def test_the_example_stub_and_answer_define_what_the_course_declares():
    import ast

    for name in ("stub.py", "solution.py", "reference.py"):
        tree = ast.parse(Path(COURSE / "exercise1_layer_norm" / name).read_text())
        assert "layer_norm" in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


@pytest.mark.slow
def test_the_course_forbids_its_own_built_ins(tmp_path):
    """examples/course/forbidden.toml: torch's layer_norm is refused, with the course's reason."""
    (tmp_path / "exercise1_layer_norm.py").write_text(
        "import torch.nn.functional as F\n\n\ndef layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):\n"
        "    return F.layer_norm(x, tuple(normalized_shape), weight, bias, eps)\n")
    r = run_cli("1", "--course", COURSE, "--submission", tmp_path, "--format", "json", timeout=300)
    report = json.loads(r.stdout)
    assert report["score"] == 0.0
    assert all("without torch's layer_norm" in t["message"] for t in report["exercises"][0]["tests"])


@pytest.mark.slow
def test_a_gradescope_bundle_of_the_example_course_grades_the_model_answer_full(tmp_path):
    import subprocess
    import sys
    import zipfile

    bundle = tmp_path / "autograder.zip"
    r = run_cli("autograder", "--out", bundle, "--course", COURSE)
    assert r.returncode == 0, r.stderr
    root = tmp_path / "autograder"
    zipfile.ZipFile(bundle).extractall(root / "source")
    assert (root / "source" / "course" / "course.toml").is_file()
    (root / "submission").mkdir()
    for folder in sorted(COURSE.glob("exercise*_*")):  # every exercise's model answer
        (root / "submission" / f"{folder.name}.py").write_text((folder / "solution.py").read_text())
    subprocess.run([sys.executable, "-m", "grader.formats.autograder", "run", "--root", root, "--config",
                    root / "source" / "nngrade-autograder.json"], check=True, capture_output=True, timeout=300,
                   cwd=tmp_path)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 40.0 and all(t["score"] == t["max_score"] for t in results["tests"])
    assert {t["name"].split(" · ")[0] for t in results["tests"]} == {"exercise1", "exercise2", "exercise3", "exercise4"}


@pytest.mark.slow
def test_a_class_graded_with_the_example_course(tmp_path):
    """grade batch --course: each student's grade from the course's suites, the gradebook out of its points."""
    import csv

    subs = tmp_path / "subs"
    for student, source in (("ada", "solution.py"), ("cy", "stub.py")):
        (subs / student).mkdir(parents=True)
        for folder in sorted(COURSE.glob("exercise*_*")):
            (subs / student / f"{folder.name}.py").write_text((folder / source).read_text())
    r = run_cli("batch", subs, "--out", tmp_path / "out", "--course", COURSE, "--seed-secret", "s", "--jobs", "1",
                timeout=600)
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "out" / "results.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Student", "exercise1", "exercise2", "exercise3", "exercise4", "Total", "Status"]
    assert rows[1] == ["Points Possible", "10", "10", "10", "10", "40", ""]
    assert {row[0]: row[1:] for row in rows[2:]} == {"ada": ["10.00"] * 4 + ["40.00", "graded"],
                                                     "cy": ["0.00"] * 4 + ["0.00", "graded"]}
