"""`grade release --course DIR`: the student edition of a course folder (the example course),
derived from its suites' visible-test declarations, leaks none of its answers, installs in a
fresh virtual environment and checks the model answer fully and the stub not at all."""

import ast
import hashlib
import json
import shutil

import pytest

from tests.commands.test_release import _bodies, _grade, _release_code, venv  # noqa: F401
from tests.conftest import ROOT, run_cli

# Slow by design: each test builds a release, installs it in a fresh venv and runs the student edition.
pytestmark = pytest.mark.slow

COURSE = ROOT / "examples" / "course"
FILES = ("solution.py", "reference.py", "stub.py")


def _exercises():
    from grader.course import load

    course = load(COURSE)
    return course, course.exercises


@pytest.fixture(scope="module")
def release(tmp_path_factory):  # the fixture ``venv`` (imported above) installs this one
    out = tmp_path_factory.mktemp("release") / "course"
    r = run_cli("release", "--course", COURSE, "--out", out, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "student check: exercise1 (4 visible test cases, 0 without an answer)" in r.stderr, r.stderr
    return out


def test_the_course_release_leaks_none_of_its_answers(release, monkeypatch):
    from grader.harness.points import suite_module
    from grader.harness.released import visible_tests

    monkeypatch.setenv("GRADER_COURSE", str(COURSE))
    course, exercises = _exercises()
    files = [p for p in release.rglob("*") if p.is_file()]
    names = {str(p.relative_to(release)) for p in files}
    assert {f"exercises/{ex.file}" for ex in exercises} <= names and "course.ipynb" in names
    assert not [n for n in names if "mistakes" in n or n.endswith(("solution.py", "reference.py"))]
    secret = [course.path(kind, ex) for ex in exercises for kind in ("solution", "reference", "suite")]
    secret += [p for ex in exercises for p in sorted(course.path("mistakes", ex).glob("*.py"))]
    shipped = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    for p in secret:
        assert hashlib.sha256(p.read_bytes()).hexdigest() not in shipped, p
    bodies = set().union(*(_bodies(ast.parse(p.read_text())) for p in secret))
    for where, source in _release_code(release).items():
        assert not _bodies(ast.parse(source)) & bodies, f"{where} holds the body of an answer or a hidden test"
    for ex in exercises:  # the stored data is that of visible tests only
        stem = ex.suite.removeprefix("test_").removesuffix(".py")
        data = json.loads((release / "package" / "grader" / "suites" / f"{stem}.json").read_text())
        visible = set(visible_tests(suite_module(ex)))  # a declared suite's too (grader.verdicts.declared)
        assert data["tests"] and {c["function"] for c in data["tests"]} == visible, ex.name
        assert all(c["visible"] for c in data["tests"])
        assert (release / "exercises" / ex.file).read_text() == course.path("stub", ex).read_text()
    readme = (release / "README.md").read_text()  # the students' page names this course's exercises
    assert "`exercise1_layer_norm.py` … `exercise4_conv2d.py`" in readme and "softmax" not in readme.lower()
    declared = (release / "package" / "grader" / "course.toml").read_text()
    assert f'title = "{course.title}"' in declared and 'topic = "conv2d"' in declared


def test_the_course_release_is_reproducible(release, tmp_path):
    r = run_cli("release", "--course", COURSE, "--out", tmp_path / "again", timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "again" / "MANIFEST.json").read_bytes() == (release / "MANIFEST.json").read_bytes()


def test_the_course_student_edition_checks_the_model_answer_fully_and_the_stub_not(
    venv,  # noqa: F811
    release,  # noqa: F811
    tmp_path,
):
    course, exercises = _exercises()
    answers = tmp_path / "answers"
    answers.mkdir()
    for ex in exercises:
        shutil.copyfile(course.path("solution", ex), answers / ex.file)
    r = _grade(venv, "all", "--submission", answers, "--format", "json", "--no-server", cwd=release)
    assert r.returncode == 0, r.stderr
    model = json.loads(r.stdout)
    assert model["edition"] == "student" and model["checks"]["passed"] == model["checks"]["ran"] == 16, model["checks"]
    assert [e["name"] for e in model["exercises"]] == [ex.name for ex in exercises]
    r = _grade(venv, "all", "--format", "json", "--no-server", cwd=release)  # the released stubs
    assert r.returncode == 1, r.stderr
    stubs = json.loads(r.stdout)
    assert stubs["checks"]["passed"] == 0 and stubs["checks"]["ran"] == 16
    # a catalogued mistake is named by its hint, from the numbers the release stored
    work = tmp_path / "bug"
    work.mkdir()
    shutil.copyfile(
        COURSE / "exercise1_layer_norm" / "mistakes" / "bug_unbiased_variance.py", work / "exercise1_layer_norm.py"
    )
    r = _grade(venv, "1", "--submission", work, "--no-server", cwd=release)
    assert r.returncode == 1 and "0 of 4 visible checks passed" in r.stdout, r.stdout + r.stderr
    assert "hint: The variance must be the biased one, divided by N" in r.stdout
    assert "input: x: shape (8, 16), float32 on cpu, normal values, normalized_shape=[16]" in r.stdout
    # and Adam's, from the parameters the release stored after one step of each mistake
    shutil.copyfile(COURSE / "exercise3_adam" / "mistakes" / "bug_no_bias_correction.py", work / "exercise3_adam.py")
    r = _grade(venv, "3", "--submission", work, "--no-server", cwd=release)
    assert r.returncode == 1 and "0 of 1 visible check passed" in r.stdout, r.stdout + r.stderr
    assert "hint: Correct m and v for their start at zero" in r.stdout
    # conv2d's visible test stores stride and padding as keyword arguments, and the student's worker passes
    # them so: an answer that takes them by keyword only passes; a mistake is named from the stored numbers
    solution = (COURSE / "exercise4_conv2d" / "solution.py").read_text()
    keyword_only = solution.replace("bias=None, stride=1, padding=0)", "bias=None, *, stride, padding)")
    assert keyword_only != solution
    (work / "exercise4_conv2d.py").write_text(keyword_only)
    r = _grade(venv, "4", "--submission", work, "--no-server", cwd=release)
    assert r.returncode == 0 and "4 of 4 visible checks passed" in r.stdout, r.stdout + r.stderr
    shutil.copyfile(COURSE / "exercise4_conv2d" / "mistakes" / "bug_flipped_kernel.py", work / "exercise4_conv2d.py")
    r = _grade(venv, "4", "--submission", work, "--no-server", cwd=release)
    assert r.returncode == 1 and "0 of 4 visible checks passed" in r.stdout, r.stdout + r.stderr
    assert "hint: Don't flip the kernel" in r.stdout and "conv2d(x, weight, bias, stride=1, padding=0)" in r.stdout


def test_the_course_student_edition_hands_dropout_a_generator(venv, release, tmp_path):  # noqa: F811
    """Dropout's visible tests give the student's dropout a torch.Generator made from the seed the release
    stored: every right answer passes, whichever way it draws its mask from it (torch.rand or bernoulli_);
    a wrong scaling is named from the stored numbers, where the student's own mask kept an element; a mask
    drawn from torch's global random numbers is named by the generator's hint."""
    mistakes = COURSE / "exercise2_dropout" / "mistakes"
    work = tmp_path / "work"
    work.mkdir()
    shutil.copyfile(mistakes / "ok_bernoulli_where.py", work / "exercise2_dropout.py")
    r = _grade(venv, "2", "--submission", work, "--no-server", cwd=release)
    assert r.returncode == 0 and "7 of 7 visible checks passed" in r.stdout, r.stdout + r.stderr
    shutil.copyfile(mistakes / "bug_no_scaling.py", work / "exercise2_dropout.py")
    r = _grade(venv, "2", "--submission", work, "--no-server", cwd=release)
    assert r.returncode == 1 and "3 of 7 visible checks passed" in r.stdout, r.stdout + r.stderr
    assert (
        "test_drops_and_scales[0.25-float32]" in r.stdout and "hint: Scale the kept elements by 1 / (1 - p)" in r.stdout
    )
    assert "generator=torch.Generator().manual_seed(" in r.stdout  # the seed the student's code was given
    shutil.copyfile(mistakes / "bug_global_random_numbers.py", work / "exercise2_dropout.py")
    r = _grade(venv, "2", "--submission", work, "--no-server", cwd=release)
    assert r.returncode == 1 and "6 of 7 visible checks passed" in r.stdout, r.stdout + r.stderr
    assert "test_mask_from_the_generator" in r.stdout and "hint: Draw the mask from the generator given" in r.stdout
    assert "torch's global random numbers seeded 1 before the first call and 2 before the second" in r.stdout


def test_the_course_student_edition_forbids_the_courses_built_ins(venv, release, tmp_path):  # noqa: F811
    """The course's forbidden.toml travels in the package: torch's layer_norm is refused with its reason."""
    (tmp_path / "exercise1_layer_norm.py").write_text(
        "import torch\n\n\ndef layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):\n"
        "    return torch.nn.functional.layer_norm(x, normalized_shape, weight, bias, eps)\n"
    )
    r = _grade(venv, "1", "--submission", tmp_path, "--no-server", cwd=release)
    assert r.returncode == 1 and "0 of 4 visible checks passed" in r.stdout, r.stdout + r.stderr
    assert "uses `torch.nn.functional.layer_norm`" in r.stdout and "without torch's layer_norm" in r.stdout


def test_the_course_student_edition_says_when_the_folder_is_another_releases(venv, release, tmp_path):  # noqa: F811
    """The same course released again with another hint level: the `grade` installed from the first
    release says so in one line when it grades the second's folder, and grades it the same."""
    from tests.commands.test_release import WARNING

    second = tmp_path / "second"
    r = run_cli("release", "--course", COURSE, "--hint-level", "concept", "--out", second, timeout=300)
    assert r.returncode == 0, r.stderr
    own = _grade(venv, "1", "--no-server", cwd=release)
    assert own.returncode == 1 and own.stdout and WARNING not in own.stderr, own.stderr
    r = _grade(venv, "1", "--no-server", cwd=second)
    assert r.returncode == 1 and r.stdout == own.stdout.replace(str(release), str(second)), r.stdout
    assert r.stderr == f"{WARNING}: install this folder's: pip install ./package\n" + own.stderr, r.stderr
