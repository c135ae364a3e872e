"""The example course (examples/course/): check-course passes on it, and each catalogued mistake
of its exercises is named by its own hint when a submission makes it."""
import json
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

COURSE = ROOT / "examples" / "course"
LAYER_NORM = COURSE / "exercise1_layer_norm" / "solution.py"

# each exercise's mistakes folder (the format of tests/corpus): known bugs, each named by its hint,
# and correct answers written another way; check-course grades them all
CATALOGUE = {"exercise1": {"bug_unbiased_variance", "bug_eps_outside_the_square_root", "bug_last_dimension_only",
                           "bug_affine_left_out", "bug_shift_before_scale", "ok_var_mean_rsqrt"},
             "exercise2": {"bug_flipped_kernel", "bug_stride_ignored", "bug_padding_ignored", "bug_bias_left_out",
                           "ok_unfold_matmul"}}


@pytest.mark.slow
def test_check_course_passes_on_the_example_course():
    r = run_cli("check-course", COURSE, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "exercise1 (Layer normalisation): ok (model answer 10 of 10, stub 0)" in r.stderr
    assert "exercise2 (Conv2d forward): ok (model answer 10 of 10, stub 0)" in r.stderr
    for exercise, catalogue in CATALOGUE.items():  # each catalogued mistake is named by its own hint
        for entry in catalogue:
            said = "gets full marks" if entry.startswith("ok_") else "is named by its hint"
            assert f"{exercise}: {entry}.py {said}" in r.stderr


def test_every_mistake_of_the_catalogue_has_a_wrong_answer_with_its_hint():
    from grader.commands.authoring import mistakes
    from grader.course import load

    course = load(COURSE)
    assert [ex.name for ex in course.exercises] == list(CATALOGUE)
    for ex in course.exercises:
        found = {path.stem: hint for path, hint in mistakes(course, ex)}
        assert set(found) == CATALOGUE[ex.name]
        suite = course.suite_path(ex).read_text()
        for stem, hint in found.items():  # each bug's hint is one the suite gives
            assert (hint is None) == stem.startswith("ok_") and (hint is None or re.search(hint, suite)), stem


def test_the_example_stub_and_answer_define_what_the_course_declares():
    import ast

    for folder, function in (("exercise1_layer_norm", "layer_norm"), ("exercise2_conv2d", "conv2d")):
        for name in ("stub.py", "solution.py", "reference.py"):
            tree = ast.parse(Path(COURSE / folder / name).read_text())
            assert function in {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}


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
    r = run_cli("autograder", "--out", bundle, "--course", COURSE, "--exercises", "1")
    assert r.returncode == 0, r.stderr
    root = tmp_path / "autograder"
    zipfile.ZipFile(bundle).extractall(root / "source")
    assert (root / "source" / "course" / "course.toml").is_file()
    (root / "submission").mkdir()
    (root / "submission" / "exercise1_layer_norm.py").write_text(LAYER_NORM.read_text())
    subprocess.run([sys.executable, "-m", "grader.formats.autograder", "run", "--root", root, "--config",
                    root / "source" / "nngrade-autograder.json"], check=True, capture_output=True, timeout=300,
                   cwd=tmp_path)
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 10.0 and len(results["tests"]) == 9


@pytest.mark.slow
def test_a_class_graded_with_the_example_course(tmp_path):
    """grade batch --course: each student's grade from the course's suites, the gradebook out of its points."""
    import csv

    subs = tmp_path / "subs"
    for student, source in (("ada", LAYER_NORM), ("cy", COURSE / "exercise1_layer_norm" / "stub.py")):
        (subs / student).mkdir(parents=True)
        (subs / student / "exercise1_layer_norm.py").write_text(source.read_text())
    r = run_cli("batch", subs, "--out", tmp_path / "out", "--course", COURSE, "--seed-secret", "s", "--jobs", "1",
                "--exercises", "1", timeout=600)
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "out" / "results.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Student", "exercise1", "Total", "Status"]
    assert rows[1] == ["Points Possible", "10", "10", ""]
    assert {row[0]: row[1:] for row in rows[2:]} == {"ada": ["10.00", "10.00", "graded"],
                                                     "cy": ["0.00", "0.00", "graded"]}
