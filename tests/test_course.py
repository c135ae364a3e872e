"""A course is a folder (grader.course): the built-in course's declaration, the errors a bad
course.toml gets, --course on the command line, and the authoring loop that
docs/instructors/authoring.md walks through: grade new-exercise, then grade check-course."""

import json
import shutil
from pathlib import Path

import pytest

from grader.course import CourseError, builtin, load
from tests.conftest import ROOT, run_cli

# the nine exercises as grader/exercises.py declared them before they moved into grader/course.toml
NINE = [
    (1, "softmax", "Softmax", ("softmax",), False, True),
    (2, "log_softmax", "Log-softmax", ("log_softmax",), False, True),
    (3, "cross_entropy", "Cross-entropy loss", ("cross_entropy", "CrossEntropyLoss"), False, True),
    (4, "linear", "Linear layer", ("Linear",), False, False),
    (5, "relu", "ReLU", ("ReLU",), False, True),
    (6, "sequential", "Sequential container", ("Sequential",), False, False),
    (7, "sgd", "SGD optimizer", ("SGD",), False, False),
    (8, "matmul", "MatMul autograd Function", ("MatMul",), False, False),
    (9, "epoch", "Training epoch", ("loss_01", "epoch"), True, False),
]


def test_the_built_in_course_declares_the_nine_exercises_as_before():
    course = builtin()
    assert [(e.number, e.topic, e.title, e.names, e.preload, e.meta) for e in course.exercises] == NINE
    assert course.points == 10.0 and course.hint_level == "fix"
    assert course.forbidden == ROOT / "grader" / "verdicts" / "forbidden.toml"
    assert course.imports == ROOT / "grader" / "verdicts" / "imports.toml"
    ex = course.exercises[2]
    assert course.path("stub", ex) == ROOT / "exercises" / "exercise3_cross_entropy.py"
    assert course.path("solution", ex) == ROOT / "solutions" / "exercise3_cross_entropy.py"
    assert course.suite_path(ex) == ROOT / "grader" / "suites" / "test_exercise3_cross_entropy.py"
    assert course.suite_root() == ROOT / "grader" / "suites"


GOOD = 'title = "T"\n[[exercise]]\ntopic = "double_it"\ntitle = "Double it"\nnames = ["double_it"]\n'


@pytest.mark.parametrize(
    "text, says",
    [
        ("", "give the course a title"),
        ('title = "T"\n', "declare the exercises"),
        (GOOD.replace('topic = "double_it"', 'topic = "Double It"'), "topic must be lower-case"),
        (GOOD.replace('names = ["double_it"]', "names = []"), "names must list"),
        (GOOD + "colour = 1\n", "unknown key(s) colour"),
        (GOOD.replace('title = "T"', 'title = "T"\npoints = 0'), "points must be a positive number"),
        (GOOD + "points = 0.001\n", "exercise 1 ([[exercise]] number 1): points must be a positive number of whole"),
        (GOOD + 'points = "20"\n', "exercise 1 ([[exercise]] number 1): points must be a positive number"),
        (GOOD.replace('title = "T"', 'title = "T"\nhint_level = "all"'), "hint_level must be one of fix, concept"),
        (GOOD.replace('title = "T"', 'title = "T"\nforbidden = "nope.toml"'), "there is no file"),
        (GOOD + '[[exercise]]\ntopic = "double_it"\ntitle = "Again"\nnames = ["f"]\n', "the same topic"),
        (
            GOOD.replace('title = "T"', 'title = "T"\n[files]\nstub = "{nope}.py"'),
            "only {stem}, {file}, {suite} and {name}",
        ),
        ("title = [", "is not valid TOML"),
    ],
)
def test_a_bad_course_toml_is_refused_with_what_is_wrong(tmp_path, text, says):
    (tmp_path / "course.toml").write_text(text)
    with pytest.raises(CourseError, match=None) as e:
        load(tmp_path)
    assert says in str(e.value) and str(tmp_path) in str(e.value)


WEIGHTED = (
    'title = "T"\npoints = 10\n'
    '[[exercise]]\ntopic = "light"\ntitle = "Light"\nnames = ["light"]\n'
    '[[exercise]]\ntopic = "heavy"\ntitle = "Heavy"\nnames = ["heavy"]\npoints = 20\n'
)


def test_an_exercise_may_have_points_of_its_own_and_the_gradebook_counts_them(tmp_path, monkeypatch):
    """`points` on an [[exercise]] overrides the course's: the gradebook's points possible, an
    override's ceiling and the class's total follow it."""
    from grader.batch.output import OverridesError, apply_overrides, parse_overrides, write_csv
    from grader.exercises import total_points
    from grader.feedback.records import GradeRow

    (tmp_path / "course.toml").write_text(WEIGHTED)
    course = load(tmp_path)
    assert [(ex.name, ex.points) for ex in course.exercises] == [("exercise1", 10.0), ("exercise2", 20.0)]
    assert course.points == 10.0 and total_points(course.exercises) == 30.0
    monkeypatch.setenv("GRADER_COURSE", str(tmp_path))
    write_csv(tmp_path / "results.csv", [], course.exercises)
    assert (tmp_path / "results.csv").read_text().splitlines()[1] == "Points Possible,10,20,30,"
    assert (tmp_path / "grades.csv").read_text().splitlines()[1].endswith(",10,20")
    head = "entry,exercise,points,reason,who\n"
    with pytest.raises(OverridesError, match="25 points is more than the exercise's 20"):
        parse_overrides(head + "ada,2,25,r,TA\n", "o.csv", course.exercises, ["ada"])
    items = parse_overrides(head + "ada,2,+30,r,TA\nada,1,+30,r,TA\n", "o.csv", course.exercises, ["ada"])
    row = GradeRow.from_dict(
        {"student": "ada", "status": "graded", "score": 5.0, "exercises": {"exercise1": 0.0, "exercise2": 5.0}}
    )
    (shown,), _ = apply_overrides([row], items)
    assert shown.exercises == {"exercise1": 10.0, "exercise2": 20.0} and shown.score == 30.0  # each at its own ceiling
    from grader.commands.release import _course_declaration

    (tmp_path / "package").mkdir()
    _course_declaration(course, tmp_path / "package")  # the student edition's declaration keeps them
    assert [ex.points for ex in load(tmp_path / "package").exercises] == [10.0, 20.0]


def test_a_folder_without_course_toml_is_refused(tmp_path):
    with pytest.raises(CourseError, match="holds no course.toml"):
        load(tmp_path)
    with pytest.raises(CourseError, match="does not exist"):
        load(tmp_path / "missing")


def test_grade_with_a_course_that_is_not_there_says_so_without_a_traceback(tmp_path):
    r = run_cli("1", "--course", tmp_path / "missing")
    assert r.returncode == 2
    assert "the course folder" in r.stderr and "does not exist" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("batch", tmp_path, "--out", tmp_path / "out", "--course", tmp_path)
    assert r.returncode == 2 and "holds no course.toml" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_grade_release_refuses_a_visible_test_it_cannot_derive(tmp_path):
    """A course whose visible test is not declared as data: no release, one clear line, nothing written."""
    course = tmp_path / "course"
    from grader.commands.authoring import scaffold

    scaffold(course, "triple_it")
    suite = course / "exercise1_triple_it" / "test_exercise1_triple_it.py"
    suite.write_text(suite.read_text() + "\ndel MATCHES_REFERENCE\n")
    r = run_cli("release", "--out", tmp_path / "out", "--course", course, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert (
        "grade release: error: exercise1: the visible test(s) test_matches_reference are not declared as "
        "data" in r.stderr
    )
    assert not (tmp_path / "out").exists()


def test_new_exercise_never_replaces_what_is_there(tmp_path):
    from grader.commands.authoring import scaffold

    scaffold(tmp_path, "halve_it")
    before = (tmp_path / "course.toml").read_text()
    with pytest.raises(CourseError) as e:
        scaffold(tmp_path, "halve_it")
    assert (
        str(e.value)
        == f"exercise 'halve_it' already exists (exercise1 in {tmp_path / 'course.toml'}): nothing was written"
    )
    (tmp_path / "exercise2_other").mkdir()
    (tmp_path / "exercise2_other" / "stub.py").write_text("# mine\n")
    with pytest.raises(CourseError, match="already exist"):
        scaffold(tmp_path, "other")
    assert (tmp_path / "exercise2_other" / "stub.py").read_text() == "# mine\n"
    assert (tmp_path / "course.toml").read_text() == before
    with pytest.raises(CourseError, match="cannot name an exercise"):
        scaffold(tmp_path, "Not A Name")


def test_new_exercise_says_what_it_wrote_as_the_guide_shows(tmp_path):
    """The exercise's folder as the author named the course (relative), as its course.toml is said."""
    r = run_cli("new-exercise", "layer_norm", "--course", "mycourse", "--title", "Layer normalisation", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    guide = (ROOT / "docs" / "instructors" / "authoring.md").read_text()
    said = next(line for line in guide.splitlines() if line.startswith("grade new-exercise: wrote"))
    assert r.stderr.strip() == said


@pytest.mark.slow
def test_the_authoring_guide_scaffold_then_check_course_then_grade(tmp_path):
    """As docs/instructors/authoring.md says: scaffold an exercise, check the course, grade with it."""
    course = tmp_path / "mycourse"
    r = run_cli("new-exercise", "double_it", "--course", course, "--title", "Double it")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (course / "exercise1_double_it").iterdir()) == [
        "mistakes",
        "reference.py",
        "solution.py",
        "stub.py",
        "test_exercise1_double_it.py",
    ]
    r = run_cli("check-course", course, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "exercise1 (Double it): ok (model answer 10 of 10, stub 0)" in r.stderr
    assert "exercise1: bug_unchanged.py is named by its hint" in r.stderr
    assert "warning: exercise1 (Double it): still the scaffold's example (2 * x): its stub, model answer" in r.stderr
    assert "every exercise checked passes (model answers full, stubs zero, points as declared), but see the 1 " in (
        r.stderr
    )
    work = tmp_path / "work"
    work.mkdir()
    shutil.copyfile(course / "exercise1_double_it" / "stub.py", work / "exercise1_double_it.py")
    r = run_cli("all", "--course", course, "--submission", work, "--format", "json", timeout=300)
    report = json.loads(r.stdout)
    assert r.returncode == 1 and (report["score"], report["max_score"]) == (0.0, 10.0)
    assert "NotImplementedError" in report["exercises"][0]["tests"][0]["message"]


@pytest.mark.slow
def test_check_course_names_each_problem(tmp_path):
    """A model answer that loses points, a stub that scores and points that do not add up: each said."""
    from grader.commands.authoring import scaffold

    course = tmp_path / "broken"
    for topic in ("wrong_answer", "scoring_stub", "short_points"):
        scaffold(course, topic)
    answer = course / "exercise1_wrong_answer" / "solution.py"
    answer.write_text(answer.read_text().replace("return 2 * x", "return x"))
    stub = course / "exercise2_scoring_stub"
    shutil.copyfile(stub / "solution.py", stub / "stub.py")
    suite = course / "exercise3_short_points" / "test_exercise3_short_points.py"
    suite.write_text(suite.read_text().replace('"matches_reference": 6', '"matches_reference": 3'))
    wrong = course / "exercise2_scoring_stub" / "mistakes"  # the format of tests/corpus
    wrong.mkdir(exist_ok=True)  # the scaffold's, with its example mistake
    answer_text = (stub / "solution.py").read_text()
    unchanged = answer_text.replace("return 2 * x", "return x")
    (wrong / "bug_unchanged.py").write_text("# hint: another mistake\n" + unchanged)
    (wrong / "bug_right_after_all.py").write_text("# hint: anything\n" + answer_text)
    (wrong / "bug_no_hint.py").write_text(unchanged)
    (wrong / "ok_but_wrong.py").write_text(unchanged)
    r = run_cli("check-course", course, timeout=600)
    assert r.returncode == 1, r.stderr
    assert "7 problem(s)" in r.stderr and "Traceback" not in r.stderr
    assert (
        "exercise2 (Scoring stub): mistakes/bug_unchanged.py is not named by its hint: no hint matches "
        "'another mistake'; test_matches_reference[2d-float32] says "
        "'scoring_stub(x) returned x itself: multiply it by 2, `2 * x`.'"
    ) in r.stderr
    assert "mistakes/bug_right_after_all.py earns every point: no test catches it" in r.stderr
    assert "mistakes/bug_no_hint.py says no hint: its first line must be '# hint: " in r.stderr
    assert (
        "mistakes/ok_but_wrong.py is a correct answer and loses 10 points: test_matches_reference[2d-float32]: "
        "scoring_stub(x) does not match the expected result"
    ) in r.stderr
    assert (
        "exercise1 (Wrong answer): the model answer loses points: test_matches_reference[2d-float32] "
        "(1.5 points): wrong_answer(x) does not match the expected result"
    ) in r.stderr
    assert "exercise2 (Scoring stub): the stub earns 10 points (a stub should earn none)" in r.stderr
    assert "exercise3 (Short points): its tests' points add up to 7, and the course gives it 10" in r.stderr


@pytest.mark.slow
def test_exercises_of_10_and_20_points_check_and_grade(tmp_path):
    """An [[exercise]] with points = 20 whose tests add up to 20: check-course passes, and a grade
    of the model answers is 10 of 10 and 20 of 20, 30 in all (also in Gradescope's results)."""
    from grader.commands.authoring import scaffold

    course = tmp_path / "weighted"
    scaffold(course, "light")
    scaffold(course, "heavy")
    toml = course / "course.toml"
    toml.write_text(toml.read_text() + "points = 20\n")  # the last [[exercise]]'s
    suite = course / "exercise2_heavy" / "test_exercise2_heavy.py"
    text = suite.read_text()  # the scaffold's points, those of a 10-point exercise, doubled
    assert '"matches_reference": 6,' in text
    suite.write_text(text.replace('"matches_reference": 6,', '"matches_reference": 16,'))
    r = run_cli("check-course", course, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "exercise2 (Heavy): ok (model answer 20 of 20, stub 0)" in r.stderr
    work = tmp_path / "work"
    work.mkdir()
    for ex in load(course).exercises:
        shutil.copyfile(course / ex.file.removesuffix(".py") / "solution.py", work / ex.file)
    r = run_cli("all", "--course", course, "--submission", work, "--format", "json", timeout=300)
    report = json.loads(r.stdout)
    assert r.returncode == 0 and (report["score"], report["max_score"]) == (30.0, 30.0), r.stderr
    assert [(e["score"], e["max_score"]) for e in report["exercises"]] == [(10.0, 10.0), (20.0, 20.0)]
    r = run_cli("all", "--course", course, "--submission", work, "--format", "gradescope", timeout=300)
    doc = json.loads(r.stdout)
    assert (doc["score"], doc["extra_data"]["max_score"]) == (30.0, 30.0), doc
    assert sum(t["max_score"] for t in doc["tests"]) == 30.0


def test_the_example_course_is_a_valid_course():
    course = load(ROOT / "examples" / "course")
    assert [e.topic for e in course.exercises] == ["layer_norm", "dropout", "adam", "conv2d"]
    assert all(
        Path(course.path(k, e)).is_file() for e in course.exercises for k in ("stub", "solution", "reference", "suite")
    )


def test_check_course_says_which_file_is_missing_or_broken_before_grading(tmp_path, monkeypatch):
    from grader.commands.authoring import check_course, scaffold

    course = tmp_path / "c"
    scaffold(course, "gone_stub")
    scaffold(course, "bad_suite")
    monkeypatch.setenv("GRADER_COURSE", str(course))
    (course / "exercise1_gone_stub" / "stub.py").unlink()
    problems = check_course(load(course), progress=lambda m: None)
    assert problems == [f"exercise1 (Gone stub): its stub {course / 'exercise1_gone_stub' / 'stub.py'} does not exist"]
    suite = course / "exercise2_bad_suite" / "test_exercise2_bad_suite.py"
    suite.write_text(suite.read_text().replace("declare(globals(), CHECKS)", "declare(globals(), CHECKS"))
    problems = check_course(load(course), load(course).exercises[1:], progress=lambda m: None)
    assert len(problems) == 1
    assert problems[0].startswith(f"exercise2 (Bad suite): its hidden suite {suite} cannot be imported (line ")
    assert "SyntaxError" in problems[0]


def test_a_course_folder_is_private_to_the_grader(tmp_path, monkeypatch):
    """Each worker's view hides the course folder (its answers), and a module loaded from it counts as a
    secret that keeps the zygote from being forked from the grader."""
    import sys
    import types

    from grader.commands.authoring import scaffold
    from grader.transport.limits import Limits
    from grader.transport.processes import ZYGOTE_ENV, hidden
    from grader.untrusted import boundary

    scaffold(tmp_path, "peek")
    assert hidden(Limits(hide=("/srv/x",))) == ["/srv/x"]  # the built-in course: its trees are the zygote's to hide
    monkeypatch.setenv("GRADER_COURSE", str(tmp_path))
    assert hidden(Limits(hide=("/srv/x",))) == ["/srv/x", str(tmp_path.resolve())]
    assert "GRADER_COURSE" not in ZYGOTE_ENV  # its path is in no worker's environment
    suite = types.ModuleType("test_exercise1_peek")
    suite.__file__ = str(tmp_path / "exercise1_peek" / "test_exercise1_peek.py")
    monkeypatch.setitem(sys.modules, "test_exercise1_peek", suite)
    assert "test_exercise1_peek" in boundary.secrets_loaded()
    monkeypatch.delenv("GRADER_COURSE")
    assert "test_exercise1_peek" not in boundary.secrets_loaded()


def test_the_student_edition_refuses_another_course(tmp_path, monkeypatch, capsys):
    from grader import cli, edition

    monkeypatch.setattr(edition, "EDITION", "student")
    assert cli.main(["1", "--course", str(tmp_path)]) == 2
    assert "--course and GRADER_COURSE are for instructors" in capsys.readouterr().err
    monkeypatch.setenv("GRADER_COURSE", str(tmp_path))
    assert cli.main(["1"]) == 2
    assert "unset GRADER_COURSE" in capsys.readouterr().err
