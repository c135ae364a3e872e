"""The example course's dropout, Adam and conv2d exercises (examples/course/exercise2..4): each is
declared with its files, its mistakes folder holds at least three mistakes with their hints and a
correct alternative, and torch's own built-in for the job is refused with the course's reason."""

import json

import pytest

from tests.conftest import ROOT, run_cli
from tests.test_example_course import CATALOGUE

COURSE = ROOT / "examples" / "course"

# each exercise's folder and the names its file defines (tests/test_example_course.py holds every
# exercise's mistakes folder, and the check-course run that grades them)
EXERCISES = {
    "exercise2": ("exercise2_dropout", {"dropout"}),
    "exercise3": ("exercise3_adam", {"Adam"}),
    "exercise4": ("exercise4_conv2d", {"conv2d"}),
}


@pytest.mark.parametrize("name", EXERCISES)
def test_the_course_declares_the_exercise_with_its_files(name):
    from grader.course import load

    folder, names = EXERCISES[name]
    course = load(COURSE)
    exercise = next(e for e in course.exercises if e.name == name)
    assert exercise.file == f"{folder}.py" and set(exercise.names) == names
    for kind in ("stub", "solution", "reference", "suite", "mistakes"):
        assert course.path(kind, exercise).exists()


@pytest.mark.parametrize("name", EXERCISES)
def test_at_least_three_mistakes_each_with_a_hint_the_suite_gives_and_a_correct_alternative(name):
    import re

    from grader.commands.authoring import mistakes
    from grader.course import load

    course = load(COURSE)
    exercise = next(e for e in course.exercises if e.name == name)
    found = {path.stem: hint for path, hint in mistakes(course, exercise)}
    assert set(found) == CATALOGUE[name]
    bugs = {stem: hint for stem, hint in found.items() if stem.startswith("bug_")}
    assert len(bugs) >= 3 and len(set(bugs.values())) >= 3  # three different mistakes, each its own hint
    assert any(stem.startswith("ok_") for stem in found)
    suite = course.suite_path(exercise).read_text()
    for stem, hint in bugs.items():  # the regex matches a hint the suite gives
        assert hint and re.search(hint, suite), stem


FORBIDDEN = {
    "exercise2_dropout.py": (
        "import torch.nn.functional as F\n\n\n"
        "def dropout(x, p=0.5, training=True, generator=None):\n"
        "    return F.dropout(x, p, training)\n"
    ),
    "exercise3_adam.py": ("import torch\n\n\nclass Adam(torch.optim.Adam):\n    pass\n"),
    "exercise4_conv2d.py": (
        "import torch.nn.functional as F\n\n\n"
        "def conv2d(x, weight, bias=None, stride=1, padding=0):\n"
        "    return F.conv2d(x, weight, bias, stride, padding)\n"
    ),
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
    reasons = {
        "exercise2": "without torch's dropout",
        "exercise3": "without torch.optim's optimizers",
        "exercise4": "without torch's convolutions",
    }
    for exercise in report["exercises"][1:]:
        assert all(reasons[exercise["name"]] in t["message"] for t in exercise["tests"]), exercise["name"]
