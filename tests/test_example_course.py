"""The example course (examples/course/): check-course passes on it, and each catalogued mistake
of its exercises is named by its own hint when a submission makes it."""

import json
import re

import pytest

from tests.conftest import ROOT, run_cli

COURSE = ROOT / "examples" / "course"

# each exercise's mistakes folder (the format of tests/corpus): known bugs, each named by its hint,
# and correct answers written another way; check-course grades them all
CATALOGUE = {
    "exercise1": {
        "bug_unbiased_variance",
        "bug_eps_outside_the_square_root",
        "bug_last_dimension_only",
        "bug_affine_left_out",
        "bug_shift_before_scale",
        "bug_mean_not_subtracted",
        "ok_var_mean_rsqrt",
    },
    "exercise2": {
        "bug_no_scaling",
        "bug_scaled_by_p",
        "bug_drops_in_eval_mode",
        "bug_global_random_numbers",
        "bug_keeps_with_probability_p",
        "ok_bernoulli_where",
    },
    "exercise3": {
        "bug_no_bias_correction",
        "bug_eps_inside_the_square_root",
        "bug_one_state_for_all_parameters",
        "bug_step_counted_per_parameter",
        "bug_weight_decay_by_default",
        "ok_state_dict_addcdiv",
    },
    "exercise4": {
        "bug_flipped_kernel",
        "bug_stride_ignored",
        "bug_padding_ignored",
        "bug_bias_left_out",
        "bug_bias_added_at_every_kernel_position",
        "bug_channels_last_output",
        "ok_unfold_matmul",
    },
}
TITLES = {
    "exercise1": "Layer normalisation",
    "exercise2": "Dropout",
    "exercise3": "The Adam optimizer",
    "exercise4": "2-d convolution, forward",
}


@pytest.mark.slow
def test_check_course_passes_on_the_example_course():
    r = run_cli("check-course", COURSE, timeout=600)
    assert r.returncode == 0, r.stderr
    for exercise, title in TITLES.items():
        assert f"{exercise} ({title}): ok (model answer 10 of 10, stub 0)" in r.stderr
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


def test_the_example_stub_answer_and_mistakes_define_what_the_course_declares():
    import ast

    from grader.course import load

    course = load(COURSE)
    assert {ex.name: ex.title for ex in course.exercises} == TITLES
    for ex in course.exercises:
        folder = course.path("solution", ex).parent
        for path in (folder / "stub.py", folder / "solution.py", *sorted((folder / "mistakes").glob("*.py"))):
            tree = ast.parse(path.read_text())
            assert set(ex.names) <= {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}, path


@pytest.mark.slow
def test_the_course_forbids_its_own_built_ins(tmp_path):
    """examples/course/forbidden.toml: torch's layer_norm is refused, with the course's reason."""
    (tmp_path / "exercise1_layer_norm.py").write_text(
        "import torch.nn.functional as F\n\n\ndef layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):\n"
        "    return F.layer_norm(x, tuple(normalized_shape), weight, bias, eps)\n"
    )
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
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grader.formats.autograder",
            "run",
            "--root",
            root,
            "--config",
            root / "source" / "nngrade-autograder.json",
        ],
        check=True,
        capture_output=True,
        timeout=300,
        cwd=tmp_path,
    )
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
    r = run_cli(
        "batch", subs, "--out", tmp_path / "out", "--course", COURSE, "--seed-secret", "s", "--jobs", "1", timeout=600
    )
    assert r.returncode == 0, r.stderr
    with open(tmp_path / "out" / "results.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Student", "exercise1", "exercise2", "exercise3", "exercise4", "Total", "Status"]
    assert rows[1] == ["Points Possible", "10", "10", "10", "10", "40", ""]
    assert {row[0]: row[1:] for row in rows[2:]} == {
        "ada": ["10.00"] * 4 + ["40.00", "graded"],
        "cy": ["0.00"] * 4 + ["0.00", "graded"],
    }
