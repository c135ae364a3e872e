"""grader.harness.released: the student edition's checks derived from the visible tests'
declarations (grader.verdicts.visible), the one source the hidden tests read too."""

import dataclasses
import types

import pytest
import torch

from grader.harness.released import ReleaseError, declared_cases
from grader.verdicts.diagnosis import Misconception
from grader.verdicts.tolerances import ROUNDING
from grader.verdicts.visible import SeededGenerator, VisibleCall, VisibleDraw, VisibleModule, VisibleStep
from tests.conftest import ROOT

COURSE = ROOT / "examples" / "course"


def _suite(visible: bool, *declarations) -> types.ModuleType:
    """A suite module with one test function, test_it (visible or not), and the declarations given."""
    module = types.ModuleType("test_exercise1_made_up")

    def test_it(student):
        """what test_it checks"""

    test_it.__module__ = module.__name__
    marked = pytest.mark.points(2)(test_it)
    module.test_it = pytest.mark.visible(marked) if visible else marked
    for k, decl in enumerate(declarations):
        setattr(module, f"DECLARED_{k}", decl)
    return module


DOUBLE = VisibleCall(
    test="test_it",
    fn="double",
    what="double(x)",
    inputs=lambda rng, dtype, device: ([torch.arange(3, dtype=dtype)], "0, 1, 2"),
    expected=lambda x: 2 * x,
    describe=lambda x, how: f"x = {how}",
)


def test_a_declared_visible_test_becomes_the_student_editions_data():
    cases = declared_cases(_suite(True, DOUBLE), "exercise1")
    assert [(c["function"], c["id"], c["description"], c["weight"], c["visible"]) for c in cases] == [
        ("test_it", "float32", "what test_it checks", 2.0, True),
        ("test_it", "float64", "what test_it checks", 2.0, True),
    ]
    assert torch.equal(cases[1]["expected"], torch.tensor([0.0, 2.0, 4.0], dtype=torch.float64))
    assert cases[0]["inputs"] == "x = 0, 1, 2" and cases[0]["rtol"] == 1e-5


WEIGHT = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
FLATTENED = Misconception("flattened", "The result has lost idx's shape: return weight[idx].")
# an embedding: its input holds indices (int64), its result is float32
LOOKUP = VisibleModule(
    test="test_it",
    cls="Embedding",
    args=(3, 2),
    name="idx",
    state={"weight": WEIGHT},
    inputs=lambda rng: (torch.tensor([[2, 0], [1, 1]]), "idx = [[2, 0], [1, 1]]"),
    expected=lambda idx: WEIGHT[idx],
    variants=lambda idx: [FLATTENED.gives(lambda: WEIGHT[idx.reshape(-1)])],
    hint="forward returns the rows of weight that idx picks.",
)


def test_a_module_whose_input_is_indices_is_checked_in_its_results_dtype():
    """The student edition compares an embedding's result in the reference's dtype, not its input's (a
    right answer was told 'returned float32, expected int64')."""
    (case,) = declared_cases(_suite(True, LOOKUP), "exercise1")
    assert case["dtype"] == "float32" and case["input"].dtype == torch.int64
    assert torch.equal(case["expected"], torch.tensor([[[5.0, 6.0], [1.0, 2.0]], [[3.0, 4.0], [3.0, 4.0]]]))
    assert (case["rtol"], case["atol"]) == tuple(ROUNDING.at(torch.float32))
    assert case["variants"][0]["name"] == "flattened"


def test_a_visible_test_not_declared_is_not_released():
    with pytest.raises(ReleaseError, match="exercise1: the visible test.s. test_it are not declared as data"):
        declared_cases(_suite(True), "exercise1")


def test_a_suite_without_a_visible_test_is_not_released():
    """The student edition of an exercise with no visible test would check nothing (and its grade
    failed with an internal error): the release stops first, and says what to do."""
    with pytest.raises(ReleaseError, match="exercise1: no test of its suite is marked @pytest.mark.visible"):
        declared_cases(_suite(False), "exercise1")


def test_a_hidden_tests_inputs_never_go_into_the_release():
    with pytest.raises(ReleaseError, match="test_it is declared .* not a test of the suite marked"):
        declared_cases(_suite(False, DOUBLE), "exercise1")
    typo = dataclasses.replace(DOUBLE, test="test_its")
    with pytest.raises(ReleaseError, match="test_its is declared"):
        declared_cases(_suite(True, typo), "exercise1")


def test_a_declaration_that_fails_is_said_in_one_line():
    broken = dataclasses.replace(DOUBLE, expected=lambda x: x.view(2, 2))
    with pytest.raises(
        ReleaseError, match="the data of the visible test test_it could not be made from its declaration: RuntimeError"
    ):
        declared_cases(_suite(True, broken), "exercise1")


def _halved_step():
    """A VisibleStep of an optimizer that takes half of each gradient: one nn.Linear(2, 1)."""
    from grader.verdicts.diagnosis import ErrorHint, Misconception

    state = {"0.weight": torch.tensor([[1.0, -2.0]]), "0.bias": torch.tensor([0.5])}
    grads = {"0.weight": torch.tensor([[2.0, 4.0]]), "0.bias": torch.tensor([-4.0])}
    full = Misconception("full step", "take half of the gradient")
    return VisibleStep(
        test="test_it",
        cls="Half",
        what="Half(model.parameters(), lr=0.5)",
        layers=((2, 1),),
        options={"lr": 0.5},
        inputs=lambda rng: (state, grads, "nn.Linear(2, 1), known values"),
        expected=lambda s, g: {n: s[n] - 0.5 * g[n] for n in s},
        variants=lambda s, g: {n: [full.gives(lambda n=n: s[n] - g[n])] for n in s},
        hint="p -= lr * p.grad",
        errors=(ErrorHint(("shape",), "one state per parameter"),),
    )


def test_a_declared_optimizer_step_becomes_the_student_editions_data():
    """A VisibleStep: the layers' parameters and gradients, the reference's parameters after the step,
    the catalogue's for each parameter and the error table's rows, as the student edition's "step" case."""
    (case,) = declared_cases(_suite(True, _halved_step()), "exercise1")
    assert (case["function"], case["id"], case["kind"], case["class"], case["layers"], case["options"]) == (
        "test_it",
        "",
        "step",
        "Half",
        [[2, 1]],
        {"lr": 0.5},
    )
    assert torch.equal(case["expected"]["0.weight"], torch.tensor([[0.0, -4.0]]))
    assert torch.equal(case["expected"]["0.bias"], torch.tensor([2.5]))
    assert [v["name"] for v in case["variants"]["0.bias"]] == ["full step"]
    assert torch.equal(case["variants"]["0.bias"][0]["result"], torch.tensor([4.5]))
    assert case["errors"] == [{"pattern": ["shape"], "hint": "one state per parameter"}]
    assert case["dtype"] == "float32" and case["hint"] == "p -= lr * p.grad"


def test_an_error_hint_that_is_not_data_is_not_released():
    import re

    from grader.verdicts.diagnosis import ErrorHint

    regex = dataclasses.replace(_halved_step(), errors=(ErrorHint(re.compile("sha(pe)"), "one state"),))
    with pytest.raises(ReleaseError, match="the data of the visible test test_it could not be made .* is not data"):
        declared_cases(_suite(True, regex), "exercise1")


def _noise(**options):
    """A VisibleDraw of noise(x, generator) = x + torch.rand(x.shape, generator=generator)."""
    from grader.verdicts.diagnosis import Misconception

    global_numbers = Misconception("global", "draw from the generator given")
    twice = Misconception("twice", "add the noise once")
    half = Misconception("half", "add all of the noise")
    return VisibleDraw(
        test="test_it",
        fn="noise",
        what="noise(x, generator)",
        inputs=lambda rng, dtype, device: ([torch.zeros(2, 3, dtype=dtype), SeededGenerator(7)], "zeros"),
        expected=lambda x, g: x + torch.rand(x.shape, generator=g, dtype=x.dtype),
        describe=lambda x, g, how: f"x = {how}, generator={g}",
        variants=lambda x, g: [
            twice.gives(lambda: x + 2 * torch.rand(x.shape, generator=g, dtype=x.dtype)),
            half.gives(lambda: x + torch.rand(x.shape, generator=g, dtype=x.dtype) / 2),
            global_numbers.gives(lambda: x + torch.rand(x.shape, dtype=x.dtype)),
        ],
        **options,
    )


def test_a_visible_test_given_a_generator_stores_its_seed_and_draws_afresh_for_each_result():
    """A VisibleDraw: the seed is stored as data, and the reference's result and each catalogued
    mistake's are drawn from a generator of their own, made from the seed (the second mistake's
    numbers are not those left after the reference's and the first mistake's draws)."""
    cases = declared_cases(_suite(True, _noise()), "exercise1")
    assert [(c["id"], c["kind"], c["device"], c["dtype"]) for c in cases] == [
        ("float32", "draw", "cpu", "float32"),
        ("float64", "draw", "cpu", "float64"),
    ]
    case = cases[1]
    assert case["args"][1] == SeededGenerator(7)
    assert case["inputs"] == "x = zeros, generator=torch.Generator().manual_seed(7)"
    drawn = torch.rand((2, 3), generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    assert torch.equal(case["expected"], drawn)
    assert [v["name"] for v in case["variants"]] == ["twice", "half", "global"]
    assert torch.equal(case["variants"][0]["result"], 2 * drawn)
    assert torch.equal(case["variants"][1]["result"], drawn / 2)
    assert not torch.equal(case["variants"][2]["result"], drawn)  # torch's global random numbers
    assert case["torch"] == ".".join(torch.__version__.split(".")[:2])  # the torch that drew them
    assert (case["kept_only"], case["hint_generator"]) == (False, "")


def test_a_draw_that_holds_for_every_mask_runs_on_every_device():
    """Only a comparison with numbers drawn from the stream is the CPU's alone (a CUDA generator draws
    otherwise): a check that holds for every draw runs where the declaration says."""
    (kept, _) = declared_cases(_suite(True, _noise(kept_only=True)), "exercise1")
    assert kept["device"] == "every" and kept["kept_only"]
    alone_decl = dataclasses.replace(_noise(hint_generator="from the generator"), expected=None)
    (alone, _) = declared_cases(_suite(True, alone_decl), "exercise1")
    assert alone["device"] == "every" and alone["expected"] is None and alone["hint_generator"]


def test_a_draw_without_one_generator_is_not_released():
    no_generator = dataclasses.replace(_noise(), inputs=lambda rng, dtype, device: ([torch.zeros(2)], "zeros"))
    with pytest.raises(ReleaseError, match="could not be made from its declaration: .*one SeededGenerator"):
        declared_cases(_suite(True, no_generator), "exercise1")


def test_a_generator_is_stored_as_its_seed():
    """The student edition's data holds a generator as {"$generator": seed}, read back as the same
    SeededGenerator, which makes a fresh torch.Generator drawing the same numbers each time."""
    import json

    from grader.verdicts.student_check import decode, encode
    from grader.verdicts.visible import with_generators

    stored = json.loads(json.dumps(encode([torch.ones(2), SeededGenerator(2**40 + 3), None])))
    assert stored[1] == {"$generator": 2**40 + 3}
    x, g, none = decode(stored)
    assert g == SeededGenerator(2**40 + 3) and none is None and torch.equal(x, torch.ones(2))
    first, again = with_generators([g, g])
    assert first is not again and torch.equal(torch.rand(4, generator=first), torch.rand(4, generator=again))


@pytest.mark.parametrize(
    "number, ids",
    [
        (2, ["0.25-float32", "0.25-float64", "0.5-float32", "0.5-float64", "", "0.3", "0.8"]),
        (3, [""]),
        (4, ["3x3-float32", "3x3-float64", "2x3-float32", "2x3-float64"]),
    ],
)
def test_the_example_courses_other_exercises_are_released_from_their_declarations(monkeypatch, number, ids):
    """Dropout's eval mode, one step of Adam and conv2d: each exercise of the example course has a visible
    test, declared once, whose cases hold the reference's result and every catalogued mistake's."""
    from grader.harness.released import course_cases

    monkeypatch.setenv("GRADER_COURSE", str(COURSE))
    from grader.course import current
    from grader.harness.points import suite_module

    exercise = current().exercises[number - 1]
    suite = suite_module(exercise)
    cases = course_cases(exercise)
    assert [c["id"] for c in cases] == ids
    for case in cases:
        if number == 2 and case["function"] == "test_eval_mode":
            assert torch.equal(case["expected"], case["args"][0]) and case["args"][1:] == [
                float(case["id"]),
                False,
                None,
            ]
        elif number == 2 and case["function"] == "test_drops_and_scales":  # any mask: x / (1 - p) where kept
            x, p, training, generator = case["args"]
            assert case["kind"] == "draw" and case["kept_only"] and training and isinstance(generator, SeededGenerator)
            assert torch.equal(case["expected"], x.double() / (1 - p))
            assert {v["name"] for v in case["variants"]} == {suite.SCALE.name}
        elif number == 2:  # the mask from the generator alone: no expected values
            assert case["expected"] is None and case["hint_generator"] == suite.GENERATOR.hint
        elif number == 3:
            expected = suite.reference.Adam(case["state"], lr=0.1).step(case["grads"])
            assert all(torch.equal(case["expected"][n], expected[n].float()) for n in expected)
            assert {v["name"] for v in case["variants"]["0.weight"]} == {
                m.name for m in (suite.NOT_UPDATED, suite.NO_BIAS_CORRECTION, suite.EPS_INSIDE, suite.SHARED_STATE)
            }
        else:  # stride and padding by keyword, as the suite's test calls conv2d
            x, w, b = case["args"]
            assert case["kwargs"] == {"stride": 1, "padding": 0}
            assert case["what"] == "conv2d(x, weight, bias, stride=1, padding=0)"
            assert torch.equal(case["expected"], suite.reference.conv2d(x, w, b, stride=1, padding=0))
            assert {suite.FLIPPED.name, suite.BIAS.name, suite.LAYOUT.name} <= {v["name"] for v in case["variants"]}


def test_the_softmax_release_follows_the_suites_declaration(monkeypatch):
    """The built-in softmax's released inputs are its suite's (nothing retyped in the release): change
    the declaration and the release changes with it, the reference's result and the catalogue's too."""
    import reference
    from grader.exercises import EXERCISES
    from grader.harness.released import course_cases
    from grader.suites import test_exercise1_softmax as suite

    rows = [[0.0, -800.0], [800.0, 0.0]]
    other = dataclasses.replace(
        suite.FAR_APART_LOGITS,
        inputs=lambda rng, dtype, device: (
            [torch.tensor(rows, dtype=dtype, device=device)],
            "rows [0, -800], [800, 0]",
        ),
    )
    monkeypatch.setattr(suite, "FAR_APART_LOGITS", other)
    visible = [c for c in course_cases(EXERCISES[0]) if c["visible"]]
    assert [c["id"] for c in visible] == ["float32", "float64"]
    for case in visible:
        assert case["args"][0].tolist() == rows and case["inputs"].endswith("rows [0, -800], [800, 0]")
        assert torch.equal(case["expected"], reference.softmax(case["args"][0].double()))
        no_max = next(v for v in case["variants"] if v["name"] == suite.NO_MAX.name)
        assert torch.isnan(no_max["result"]).any()  # exp(800) overflows: the catalogue ran on these rows


@pytest.mark.parametrize("number", [1, 2, 3])
def test_the_built_in_row_functions_release_what_their_suites_declare(number):
    """softmax, log_softmax and cross_entropy: each visible test is declared, and the released
    inputs are the declaration's (the same tensors the hidden test makes)."""
    import importlib

    from grader.exercises import EXERCISES
    from grader.harness.released import course_cases, declared, visible_tests

    suite = importlib.import_module(f"grader.suites.{EXERCISES[number - 1].suite[:-3]}")
    (decl,) = [d for d in declared(suite) if d.test in visible_tests(suite)]
    assert [decl.test] == visible_tests(suite)
    visible = [c for c in course_cases(EXERCISES[number - 1]) if c["visible"]]
    assert [c["id"] for c in visible] == ["float32", "float64"]
    for case, (_, params) in zip(visible, decl.params):
        args, how = decl.make(**params)
        assert all(torch.equal(a, b) for a, b in zip(case["args"], args)) and case["inputs"] == decl.describe(
            *args, how
        )


def test_the_example_layer_norm_is_released_from_its_suites_declaration(monkeypatch):
    """The example course's LayerNorm: the cases of its visible test, with pytest's ids, inputs drawn
    the same on every build, the reference's result and every catalogued mistake's."""
    from grader.harness.released import course_cases

    monkeypatch.setenv("GRADER_COURSE", str(COURSE))
    from grader.course import current
    from grader.harness.points import suite_module

    exercise = current().exercises[0]
    cases = course_cases(exercise)
    assert [c["id"] for c in cases] == ["2d-float32", "2d-float64", "3d-float32", "3d-float64"]
    suite = suite_module(exercise)
    for case, again in zip(cases, course_cases(exercise)):
        x, shape, weight, bias, eps = case["args"]
        assert torch.equal(x, again["args"][0]) and torch.equal(weight, again["args"][2])
        assert torch.equal(case["expected"], suite.reference.layer_norm(x, shape, weight, bias, eps))
        assert case["inputs"].startswith(f"x: shape ({', '.join(map(str, x.shape))}), {case['id'][3:]} on cpu")
        assert {v["name"] for v in case["variants"]} == {
            m.name for m in (suite.UNBIASED, suite.EPS_OUTSIDE, suite.WRONG_DIMS, suite.NO_AFFINE, suite.BIAS_FIRST)
        }


def test_check_course_says_when_a_visible_test_cannot_be_released(tmp_path, monkeypatch):
    from grader.commands.authoring import _release_problems, scaffold
    from grader.course import load

    scaffold(tmp_path, "quadruple_it")
    course = load(tmp_path)
    monkeypatch.setenv("GRADER_COURSE", str(tmp_path))
    assert _release_problems(course, course.exercises) == []  # the scaffold's visible test is declared
    suite = course.suite_path(course.exercises[0])
    suite.write_text(suite.read_text() + "\ndel MATCHES_REFERENCE\n")
    monkeypatch.delitem(__import__("sys").modules, suite.stem)
    problems = _release_problems(course, course.exercises)
    assert problems == [
        "exercise1 (Quadruple it): cannot be released: the visible test(s) test_matches_reference "
        "are not declared as data; declare each one's inputs with VisibleCall (grader.suites.common) "
        'and make the test take them from there (docs/instructors/authoring.md, "Release your '
        'course")'
    ], problems


RECORDED = ROOT / "tests" / "harness" / "released_cases"


def _same_data(text: str) -> str:
    """The data of a student check's JSON, whatever the order of its keys and however a whole
    number is written (0 or 0.0: the same comparison)."""
    import json

    return json.dumps(json.loads(text, parse_int=float), sort_keys=True, indent=1)


@pytest.mark.parametrize("number", range(1, 10))
def test_the_built_in_courses_released_cases_are_the_recorded_ones(number):
    """What the student edition of each built-in exercise checks (inputs, expected values, tolerances,
    descriptions, hints, the catalogue's numbers) is the data recorded in tests/harness/released_cases/,
    as the release wrote it.  A change to a visible test's declaration that is meant changes the
    recorded file too: write it with grader.commands.release.check_data."""
    import difflib

    from grader.commands.release import check_data, points
    from grader.exercises import EXERCISES
    from grader.harness.released import course_cases

    ex = EXERCISES[number - 1]
    recorded = (RECORDED / f"{ex.suite.removeprefix('test_').removesuffix('.py')}.json").read_text()
    made = check_data(ex, points(course_cases(ex)))
    if _same_data(made) != _same_data(recorded):
        diff = difflib.unified_diff(_same_data(recorded).splitlines(), _same_data(made).splitlines(), lineterm="")
        pytest.fail(f"{ex.name}'s released cases differ from the recorded ones:\n" + "\n".join(list(diff)[:60]))


@pytest.mark.parametrize("number", range(1, 10))
def test_every_visible_test_of_the_built_in_course_is_released_from_its_declaration(number):
    """Each built-in exercise's visible tests are declared in its suite, and what the student edition
    checks is those declarations: a visible case for each visible test, and the gradcheck that needs
    no answer where the suite declares one (exercises 1, 2 and 8)."""
    from grader.exercises import EXERCISES
    from grader.harness.points import suite_module
    from grader.harness.released import course_cases, declared, visible_tests
    from grader.verdicts.visible import VisibleGradcheck

    ex = EXERCISES[number - 1]
    suite = suite_module(ex)
    decls = declared(suite)
    checks = [d.test for d in decls if isinstance(d, VisibleGradcheck)]
    assert sorted({d.test for d in decls} - set(checks)) == sorted(visible_tests(suite))
    cases = course_cases(ex)
    assert sorted({c["function"] for c in cases if c["visible"]}) == sorted(visible_tests(suite))
    assert [c["function"] for c in cases if not c["visible"]] == checks
    assert bool(checks) == (number in (1, 2, 8))


def test_a_built_in_modules_release_follows_its_suites_declaration(monkeypatch):
    """Linear's released input, parameters and expected output come from its suite's declaration:
    change it and the release changes with it."""
    from grader.exercises import EXERCISES
    from grader.harness.released import course_cases
    from grader.suites import test_exercise4_linear as suite

    X = torch.tensor([[2.0, 0.0, -1.0]])
    other = dataclasses.replace(suite.SMALL_EXAMPLE, inputs=lambda rng: (X, "X = [[2, 0, -1]]"))
    monkeypatch.setattr(suite, "SMALL_EXAMPLE", other)
    (case,) = course_cases(EXERCISES[3])
    assert torch.equal(case["input"], X) and case["inputs"].endswith("X = [[2, 0, -1]]")
    W, b = other.state["weight"], other.state["bias"]
    assert torch.equal(case["expected"], X.double() @ W.double() + b.double())
