"""The example course's dropout, Adam and conv2d exercises (examples/course/exercise2..4): each model
answer earns every point, each stub none, each catalogued mistake is named by its own hint, and
torch's own built-in for the job is refused with the course's reason."""
import ast
import json

import pytest

from tests.conftest import ROOT, run_cli

COURSE = ROOT / "examples" / "course"

# each exercise's folder, the names its file defines, and its catalogue: a wrong answer in mistakes/ for
# each mistake, which check-course grades (its docstring's "hint:" line starts the hint that must name it)
EXERCISES = {
    "exercise2": ("exercise2_dropout", {"dropout"},
                  {"no_scaling", "scaled_by_p", "drops_in_eval_mode", "global_random_numbers",
                   "keeps_with_probability_p"}),
    "exercise3": ("exercise3_adam", {"Adam"},
                  {"no_bias_correction", "eps_inside_the_square_root", "one_state_for_all_parameters",
                   "step_counted_per_parameter", "weight_decay_by_default"}),
    "exercise4": ("exercise4_conv2d", {"conv2d"},
                  {"flipped_kernel", "stride_ignored", "padding_ignored", "bias_left_out",
                   "bias_added_at_every_kernel_position", "channels_last_output"}),
}


@pytest.mark.parametrize("name", EXERCISES)
def test_the_course_declares_the_exercise_with_its_files(name):
    from grader.course import load

    folder, names, _ = EXERCISES[name]
    course = load(COURSE)
    exercise = next(e for e in course.exercises if e.name == name)
    assert exercise.file == f"{folder}.py" and set(exercise.names) == names
    for kind in ("stub", "solution", "reference", "suite"):
        assert course.path(kind, exercise).is_file()


@pytest.mark.parametrize("name", EXERCISES)
def test_every_mistake_of_the_catalogue_has_a_wrong_answer_with_a_hint_the_suite_gives(name):
    from grader.commands.authoring import mistakes
    from grader.course import load

    course = load(COURSE)
    exercise = next(e for e in course.exercises if e.name == name)
    found = {path.stem: hint for path, hint in mistakes(course, exercise)}
    assert set(found) == EXERCISES[name][2] and all(found.values())
    suite = course.suite_path(exercise).read_text()
    assert all(hint in suite for hint in found.values())
    assert len(set(found.values())) >= 3  # at least three different mistakes, each with its own hint


@pytest.mark.parametrize("name", EXERCISES)
def test_the_stub_the_answer_and_each_mistake_define_what_the_course_declares(name):
    folder, names, _ = EXERCISES[name]
    files = [COURSE / folder / "stub.py", COURSE / folder / "solution.py", *(COURSE / folder / "mistakes").glob("*.py")]
    for path in files:
        tree = ast.parse(path.read_text())
        assert names <= {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}, path


@pytest.mark.slow
def test_check_course_passes_on_the_three_exercises_and_names_every_mistake():
    r = run_cli("check-course", COURSE, "--exercises", *EXERCISES, timeout=600)
    assert r.returncode == 0, r.stderr
    for name, (_, _, catalogue) in EXERCISES.items():
        assert f"{name} (" in r.stderr and "): ok (model answer 10 of 10, stub 0)" in r.stderr
        for mistake in catalogue:
            assert f"{name}: the mistake {mistake}.py is named by its hint" in r.stderr
    assert r.stderr.count("): ok (model answer 10 of 10, stub 0)") == len(EXERCISES)


FORBIDDEN = {
    "exercise2_dropout.py": ("import torch.nn.functional as F\n\n\n"
                             "def dropout(x, p=0.5, training=True, generator=None):\n"
                             "    return F.dropout(x, p, training)\n"),
    "exercise3_adam.py": ("import torch\n\n\nclass Adam(torch.optim.Adam):\n    pass\n"),
    "exercise4_conv2d.py": ("import torch.nn.functional as F\n\n\n"
                            "def conv2d(x, weight, bias=None, stride=1, padding=0):\n"
                            "    return F.conv2d(x, weight, bias, stride, padding)\n"),
}


@pytest.mark.slow
def test_grade_all_refuses_torchs_own_built_ins_with_the_courses_reason(tmp_path):
    """examples/course/forbidden.toml: each exercise's built-in earns nothing, with the course's reason;
    the model answer of the fourth exercise given beside them still earns every point."""
    for file, text in FORBIDDEN.items():
        (tmp_path / file).write_text(text)
    (tmp_path / "exercise1_layer_norm.py").write_text((COURSE / "exercise1_layer_norm" / "solution.py").read_text())
    r = run_cli("all", "--course", COURSE, "--submission", tmp_path, "--format", "json", timeout=300)
    report = json.loads(r.stdout)
    scores = {e["name"]: e["score"] for e in report["exercises"]}
    assert scores == {"exercise1": 10.0, "exercise2": 0.0, "exercise3": 0.0, "exercise4": 0.0}
    reasons = {"exercise2": "without torch's dropout", "exercise3": "without torch.optim's optimizers",
               "exercise4": "without torch's convolutions"}
    for exercise in report["exercises"][1:]:
        assert all(reasons[exercise["name"]] in t["message"] for t in exercise["tests"]), exercise["name"]
