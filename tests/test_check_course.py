"""What grade check-course says of a course's mistakes folder, its model answers and its scaffolds,
judged from the reports it grades (grader.commands.authoring); the slow tests grade a real course."""

from pathlib import Path

import pytest

from grader.commands.authoring import judge_mistake
from grader.verdicts.diagnosis import join

OVERFLOW = "exp(x) overflows to inf for large x: subtract the maximum first, m + log(sum(exp(x - m)))."
GLOBAL_MAX = "Take the maximum along dim, one per slice, not x.max() of the whole tensor."


def _entry(*hints: str) -> dict:
    tests = [
        {"name": f"test_{i}", "status": "failed", "score": 0.0, "max_score": 1.0, "message": "off", "hint": h}
        for i, h in enumerate(hints)
    ]
    return {"name": "exercise1", "title": "Logsumexp", "score": 0.0, "max_score": 10.0, "tests": tests}


BUG = Path("mistakes/bug_global_max.py")


def test_a_mistake_is_named_by_a_hint_that_names_it_alone():
    assert judge_mistake(_entry(join([OVERFLOW, GLOBAL_MAX]), GLOBAL_MAX), BUG, "one per slice") is None
    assert judge_mistake(_entry(GLOBAL_MAX), BUG, "one per slice") is None


def test_a_mistake_matched_only_by_a_joined_hint_is_a_problem():
    """The hint of another mistake (overflow) matches the joined hint of one test, while another test's
    hint names the file's mistake alone (the global maximum): not named."""
    said = judge_mistake(_entry(join([OVERFLOW, GLOBAL_MAX]), GLOBAL_MAX), BUG, "overflows to inf")
    assert said is not None
    assert said.startswith(
        "exercise1 (Logsumexp): mistakes/bug_global_max.py is named only together with another mistake: "
        "'overflows to inf' matches only test_0's 'More than one bug gives exactly this result: (1) exp(x) overflows"
    )
    assert "not a hint that names one mistake alone (test_1 says 'Take the maximum along dim" in said


def test_a_mistake_no_test_tells_apart_from_another_is_said_to_be_ambiguous():
    both = join([OVERFLOW, GLOBAL_MAX])
    said = judge_mistake(_entry(both, both), BUG, "one per slice")
    assert said is not None and "the hint is ambiguous on every test" in said
    assert said.endswith("add a test whose inputs tell them apart")
    assert "not named" in judge_mistake(_entry(both), BUG, "zzz nothing")


def test_a_correct_answer_is_judged_by_its_tests_not_by_a_points_mismatch():
    """An exercise whose points (20) are not its tests' sum (10) is a problem said once, apart: a correct
    answer that passes every test is not also said to lose the difference, with no test to name."""
    passed = [{"name": "test_0", "status": "passed", "score": 10.0, "max_score": 10.0, "message": "", "hint": ""}]
    entry = {"name": "exercise2", "title": "Embedding", "score": 10.0, "max_score": 20.0, "tests": passed}
    assert judge_mistake(entry, Path("mistakes/ok_one_hot.py"), None) is None
    failed = dict(_entry("a hint"), max_score=20.0)
    said = judge_mistake(failed, Path("mistakes/ok_one_hot.py"), None)
    assert said == "exercise1 (Logsumexp): mistakes/ok_one_hot.py is a correct answer and loses 1 points: test_0: off"
    unread = dict(_entry(), status="load_error", message="exercise1_logsumexp.py, line 1: SyntaxError")
    said = judge_mistake(unread, Path("mistakes/ok_one_hot.py"), None)
    assert said is not None and said.endswith("loses 10 points: exercise1_logsumexp.py, line 1: SyntaxError")


def _trace(root: Path) -> str:
    """A traceback, in Python's format, of an error raised in the suite of the course folder ``root``."""
    return (
        "Traceback (most recent call last):\n"
        '  File "/x/grader/verdicts/declared.py", line 300, in run\n'
        "    args, how = case.inputs(rng, dtype, device)\n"
        f'  File "{root}/exercise1_logsumexp/test_exercise1_logsumexp.py", line 40, in _large\n'
        "    return [x[9] * 10 + 1000.0, 1], 'large'\n"
        '  File "/x/torch/_tensor.py", line 9, in __getitem__\n'
        "    raise IndexError\n"
        "IndexError: index 9 is out of bounds for dimension 0 with size 5\n"
    )


def test_an_error_of_the_suite_itself_says_what_and_where_in_the_course(tmp_path):
    from grader.commands.authoring import suite_error

    said = suite_error(_trace(tmp_path), tmp_path)
    assert said == (
        "IndexError: index 9 is out of bounds for dimension 0 with size 5 (raised at "
        f"{tmp_path}/exercise1_logsumexp/test_exercise1_logsumexp.py:40, in _large)"
    )
    elsewhere = suite_error(_trace(tmp_path), tmp_path / "other")
    assert elsewhere.endswith("(raised at /x/torch/_tensor.py:9, in __getitem__; no line of the course's is in it)")


def _internal(name: str, trace: str) -> dict:
    return {
        "name": name,
        "status": "error",
        "score": 0.0,
        "max_score": 1.0,
        "message": "internal grader error (IndexError); this is not your fault, please report it",
        "hint": "",
        "kind": "internal",
        "trace": trace,
    }


def test_check_course_says_the_suite_fails_once_and_leaves_out_what_follows_from_it(tmp_path):
    """A suite that raises in one test is the author's error, said with its type, message and line (not
    the student's 'internal grader error'), once; a mistake's result in that test is not judged."""
    from types import SimpleNamespace

    from grader.commands.authoring import judge

    passed = {"name": "test_matches_reference", "status": "passed", "score": 9.0, "max_score": 9.0, "message": ""}
    answer = _entry()
    answer["tests"] = [passed, _internal("test_large[float32]", _trace(tmp_path))]
    answer["tests"] += [_internal("test_large[float64]", _trace(tmp_path))]
    answer.update(status="graded", score=9.0, max_score=11.0)
    stub = {**answer, "score": 0.0, "tests": []}
    course = SimpleNamespace(root=tmp_path, exercises=[SimpleNamespace(name="exercise1", points=11.0)])
    assert judge(course, answer, stub) == [
        "exercise1 (Logsumexp): the hidden suite itself fails (the course's error, not the answer's) in "
        "test_large[float32], test_large[float64]: IndexError: index 9 is out of bounds for dimension 0 with size 5 "
        f"(raised at {tmp_path}/exercise1_logsumexp/test_exercise1_logsumexp.py:40, in _large)"
    ]
    bug = _entry(GLOBAL_MAX)
    bug["tests"].append(_internal("test_large[float32]", _trace(tmp_path)))
    assert judge_mistake(bug, BUG, "one per slice", {"test_large[float32]"}) is None
    assert "without a hint in test_large[float32]" in judge_mistake(bug, BUG, "one per slice")  # the follow-on
    ok = _entry()
    ok["tests"] = [_internal("test_large[float32]", "...")]
    ok.update(score=9.0, max_score=10.0)
    assert judge_mistake(ok, Path("mistakes/ok_amax.py"), None, {"test_large[float32]"}) is None


def test_check_course_warns_of_an_untouched_scaffold_and_of_no_catalogued_mistake(tmp_path):
    """A fresh scaffold grades (model answer full, stub zero), but it is the scaffold's 2 * x example,
    not an exercise: check-course warns, file by file, and of a mistakes folder without a bug."""
    from grader.commands.authoring import scaffold, scaffold_warnings
    from grader.course import load

    folder = tmp_path / "c6"
    made = scaffold(folder, "gelu")
    assert sorted(p.name for p in (made / "mistakes").iterdir()) == ["bug_unchanged.py"]
    course = load(folder)
    assert scaffold_warnings(course, course.exercises) == [
        "exercise1 (Gelu): still the scaffold's example (2 * x): its stub, model answer, reference, hidden suite, "
        "mistakes/bug_unchanged.py; make them the exercise's"
    ]
    (made / "solution.py").write_text("import torch\n\n\ndef gelu(x):\n    return torch.nn.functional.gelu(x)\n")
    (made / "mistakes" / "bug_unchanged.py").unlink()
    stub = made / "stub.py"
    stub.write_text(stub.read_text().replace("it returns 2 * x", "it returns GELU(x)"))  # the example's line kept
    assert scaffold_warnings(course, course.exercises) == [
        "exercise1 (Gelu): still the scaffold's example (2 * x): its stub, reference, hidden suite; make them "
        "the exercise's",
        "exercise1 (Gelu): no mistakes/bug_*.py: your hints are not checked (put the mistakes students make "
        "there, one file each)",
    ]


def test_check_course_says_when_the_model_answer_does_not_define_the_names_course_toml_lists(tmp_path):
    """A class exercise scaffolded as `embedding` keeps names = ["embedding"] until the author writes
    the class's name there: the model answer defines Embedding, and a file holding several exercises
    would be split by the wrong name."""
    from grader.commands.authoring import _names_problems, scaffold
    from grader.course import load, parse, tomllib

    made = scaffold(tmp_path / "c8", "embedding", "An embedding layer")
    course = load(tmp_path / "c8")
    assert _names_problems(course, course.exercises) == []  # the scaffold defines embedding
    (made / "solution.py").write_text(
        "import torch\nfrom torch import nn\n\nSIZE = 3\n\n\nclass Embedding(nn.Module):\n    pass\n\n\n"
        "def _helper():\n    pass\n"
    )
    assert _names_problems(course, course.exercises) == [
        "exercise1 (An embedding layer): course.toml's names lists 'embedding', which its model answer does not "
        "define (it defines Embedding): names are what the student's file must define (a class's name for a class)"
    ]
    toml = tmp_path / "c8" / "course.toml"
    toml.write_text(toml.read_text().replace('names = ["embedding"]', 'names = ["Embedding", "SIZE"]'))
    course = parse(toml, tomllib.loads(toml.read_text()))  # load() reads a course once per process
    assert _names_problems(course, course.exercises) == []
    (made / "solution.py").write_text("def broken(:\n")
    assert _names_problems(course, course.exercises) == []  # a syntax error is said by the grading


def test_check_course_warns_of_a_forbidden_toml_that_course_toml_does_not_name(tmp_path):
    """The guide's folder holds forbidden.toml, but only course.toml's `forbidden` key makes it read: one
    written beside a scaffolded course.toml (whose key is a comment) forbade nothing, silently."""
    from grader.commands.authoring import scaffold, unread_files
    from grader.course import load, parse, tomllib

    scaffold(tmp_path / "c9", "gelu")
    toml = tmp_path / "c9" / "course.toml"
    assert '# forbidden = "forbidden.toml"' in toml.read_text()
    (tmp_path / "c9" / "forbidden.toml").write_text('[exercise1]\ncalls = ["gelu"]\n')
    assert unread_files(load(tmp_path / "c9")) == [
        f"{tmp_path / 'c9' / 'forbidden.toml'} is not read: course.toml names no forbidden file "
        '(add `forbidden = "forbidden.toml"` to it)'
    ]
    toml.write_text(toml.read_text().replace('# forbidden = "forbidden.toml"', 'forbidden = "forbidden.toml"'))
    assert unread_files(parse(toml, tomllib.loads(toml.read_text()))) == []


def test_check_course_replays_the_student_editions_checks_on_the_model_answer(zygote, tmp_path, monkeypatch):
    """What grade release stores for a visible test is checked as the student edition checks it, on the
    model answer: data derived otherwise than the hidden test checks (an embedding's result compared in
    its int64 input's dtype) would tell students with a right answer that it is wrong."""
    from types import SimpleNamespace

    from grader.commands.authoring import _student_edition_problems
    from grader.exercises import lookup
    from grader.harness import released
    from grader.harness.points import suite_module
    from tests.conftest import ROOT

    ex = lookup("1")
    cases = released.declared_cases(suite_module(ex), ex.name)
    course = SimpleNamespace(builtin=False, path=lambda kind, exercise: ROOT / "solutions" / exercise.file)
    monkeypatch.setattr(released, "course_cases", lambda exercise: cases)
    (tmp_path / "right").mkdir()
    assert _student_edition_problems(course, [ex], zygote, tmp_path / "right") == []
    k = next(i for i, case in enumerate(cases) if case["kind"] == "call")
    wrong = dict(cases[k], expected=2 * cases[k]["expected"])
    monkeypatch.setattr(released, "course_cases", lambda exercise: cases[:k] + [wrong] + cases[k + 1 :])
    (tmp_path / "wrong").mkdir()
    (said,) = _student_edition_problems(course, [ex], zygote, tmp_path / "wrong")
    label = wrong["function"] + (f"[{wrong['id']}]" if wrong["id"] else "")
    assert said.startswith(
        f"exercise1 (Softmax): the student edition (grade release) fails the model answer in {label}: softmax"
    ), said


def test_points_that_do_not_add_up_name_both_ways_of_giving_a_test_its_points():
    from types import SimpleNamespace

    from grader.commands.authoring import CHECK_DESCRIPTION, SUITE, judge

    answer = _entry()
    answer["tests"] = [{"name": "test_matches_reference", "status": "passed", "score": 7.0, "max_score": 7.0}]
    answer.update(status="graded", score=7.0, max_score=7.0)
    course = SimpleNamespace(root=Path("."), exercises=[SimpleNamespace(name="exercise1", points=20.0)])
    (said,) = judge(course, answer, {**answer, "score": 0.0, "tests": []})
    assert said == (
        "exercise1 (Logsumexp): its tests' points add up to 7, and the course gives it 20 (points in course.toml, "
        "the course's or its [[exercise]]'s; each test's in its suite: @pytest.mark.points, or a declared "
        "suite's Checks(points={...}))"
    )
    assert "points per exercise" not in CHECK_DESCRIPTION + SUITE  # an exercise may have points of its own


BROKEN_CASE = """

def _broken(rng, dtype, device):
    x = randn(rng, (3, 4), dtype, device)
    return [x[9]], "a row past the end"


CHECKS = Checks("""


@pytest.mark.slow
def test_check_course_shows_the_suite_s_own_error_and_a_student_still_reads_internal_error(tmp_path):
    """A Case whose inputs raise: check-course says the error, its message and the suite's line, once, and
    nothing that follows from it; a student graded on that suite reads 'internal grader error', no trace."""
    import shutil

    from grader.commands.authoring import scaffold
    from tests.conftest import run_cli

    course = tmp_path / "c7"
    made = scaffold(course, "double_it")
    suite = made / "test_exercise1_double_it.py"
    text = suite.read_text().replace("from grader.suites.common import ", "from grader.suites.common import Case, ")
    text = text.replace("\n\nCHECKS = Checks(", BROKEN_CASE, 1).replace(
        '"matches_reference": 6', '"matches_reference": 5'
    )
    text = text.replace("tolerance=EXACT,", 'tolerance=EXACT,\n    cases=(Case("broken", "past the end", _broken),),')
    suite.write_text(text.replace('"gradcheck": 2', '"gradcheck": 2, "broken": 1'))
    line = next(i for i, t in enumerate(suite.read_text().splitlines(), 1) if "return [x[9]]" in t)
    r = run_cli("check-course", course, timeout=600)
    assert r.returncode == 1, r.stderr
    assert "grade check-course: " + str(course / "course.toml") + ": 1 problem(s):" in r.stderr, r.stderr
    assert (
        "exercise1 (Double it): the hidden suite itself fails (the course's error, not the answer's) in "
        "test_broken[float32], test_broken[float64]: IndexError: index 9 is out of bounds for dimension 0 with "
        f"size 3 (raised at {suite}:{line}, in _broken)"
    ) in r.stderr
    assert "internal grader error" not in r.stderr and "bug_unchanged.py is named by its hint" in r.stderr
    work = tmp_path / "work"
    work.mkdir()
    shutil.copyfile(made / "solution.py", work / "exercise1_double_it.py")
    r = run_cli("all", "--course", course, "--submission", work, "--format", "json", timeout=300)
    said = r.stdout + r.stderr  # the grading fails closed, in the student's words: no line of the suite
    assert r.returncode != 0 and "internal grader error (IndexError); this is not your fault, please report it" in said
    assert "x[9]" not in said and str(suite) not in said and "Traceback" not in said
