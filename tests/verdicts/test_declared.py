"""Checks from a short description (grader/verdicts/declared.py): the tests a declaration adds to a
suite, and how they grade right and wrong answers of a course exercise declared with it."""

import sys
import textwrap
import types

import pytest
import torch

from grader.verdicts.checks import Failure
from grader.verdicts.declared import Case, Checks, EditionGradcheck, Property, declare, rows_sum_to_one
from grader.verdicts.diagnosis import Misconception
from grader.verdicts.hints import FORWARD_FIRST, ONLY_2D
from grader.verdicts.inputs import normal_values, one_tensor, randn
from grader.verdicts.tolerances import ROUNDING, magnitude
from grader.verdicts.visible import VisibleCall, VisibleGradcheck

NO_MAX = Misconception("no max", "exp() overflowed: subtract each row's max before exp.")
WHOLE = Misconception("whole", "You normalise over the whole tensor: normalise each row, .sum(dim=-1, keepdim=True).")


def _softmax(x):
    return torch.softmax(x.double(), -1).to(x.dtype)


def _checks(**options):
    return Checks(
        **{
            "fn": "softmax",
            "reference": _softmax,
            "inputs": lambda rng, shape, dtype, device: ([randn(rng, shape, dtype, device)], "normal values"),
            "shapes": {"2d": (4, 5), "3d": (2, 3, 4)},
            "points": {"matches_reference": 10},
            **options,
        }
    )


def _declared(checks) -> types.ModuleType:
    module = types.ModuleType("test_exercise1_softmax_declared")
    declare(vars(module), checks)
    return module


def _tests(module) -> dict:
    return {name: fn for name, fn in vars(module).items() if name.startswith("test_")}


def _marks(fn) -> dict:
    return {m.name: m.args for m in fn.pytestmark}


def _params(fn) -> list:
    import inspect

    return list(inspect.signature(fn).parameters)


def test_a_declaration_adds_the_tests_it_turns_on_each_with_its_points_and_description():
    module = _declared(
        _checks(
            cases=(Case("large_logits", "softmax of logits around ±1000", lambda rng, dtype, device: ([], "")),),
            properties=(rows_sum_to_one,),
            gradients=True,
            devices=True,
            unchanged=True,
            points={
                "matches_reference": 4,
                "large_logits": 1,
                "rows_sum_to_one": 1,
                "input_not_modified": 1,
                "gradcheck": 2,
                "follows_input_device": 1,
            },
            descriptions={"gradcheck": "the gradient, checked"},
        )
    )
    tests = _tests(module)
    assert list(tests) == [
        "test_matches_reference",
        "test_large_logits",
        "test_rows_sum_to_one",
        "test_input_not_modified",
        "test_gradcheck",
        "test_follows_input_device",
    ]
    from grader.harness.points import function_points

    assert [function_points(fn) for fn in tests.values()] == [4, 1, 1, 1, 2, 1]
    assert all(fn.__module__ == module.__name__ for fn in tests.values())
    assert tests["test_large_logits"].__doc__ == "softmax of logits around ±1000"
    assert tests["test_gradcheck"].__doc__ == "the gradient, checked"
    assert tests["test_matches_reference"].__doc__.startswith("softmax matches the reference")
    matches = tests["test_matches_reference"]
    assert _params(matches) == ["student", "rng", "shape", "dtype", "device"]
    marks = _marks(matches)
    assert "visible" in marks and marks["parametrize"] == ("dtype", marks["parametrize"][1])
    assert _params(tests["test_gradcheck"]) == ["student", "rng"]
    # the visible test's data, for grade release, under the test's name
    assert isinstance(module.MATCHES_REFERENCE, VisibleCall)
    assert module.MATCHES_REFERENCE.test == "test_matches_reference" and module.MATCHES_REFERENCE.every_device
    assert [c for c, _ in module.MATCHES_REFERENCE.params] == ["2d-float32", "2d-float64", "3d-float32", "3d-float64"]


def test_the_device_check_is_there_only_when_it_is_on():
    off = _tests(_declared(_checks()))
    assert list(off) == ["test_matches_reference"]
    assert "device" not in _params(off["test_matches_reference"])
    on = _tests(_declared(_checks(devices=True, points={"matches_reference": 9, "follows_input_device": 1})))
    assert "test_follows_input_device" in on and "device" in _params(on["test_matches_reference"])


def test_a_property_without_points_is_a_hint_only_and_no_test():
    assert list(_tests(_declared(_checks(properties=(rows_sum_to_one,))))) == ["test_matches_reference"]


@pytest.mark.parametrize(
    "options, says",
    [
        ({"gradients": True}, "give the points of gradcheck"),
        ({"points": {"matches_reference": 9, "gradcheck": 1}}, "points for gradcheck, which is not a declared test"),
        ({"visible": "large_logits"}, "visible='large_logits' is neither matches_reference nor a Case's name"),
    ],
)
def test_a_declaration_that_does_not_add_up_is_refused(options, says):
    with pytest.raises(ValueError, match="declare: " + says.replace("(", r"\(").replace(")", r"\)")):
        _declared(_checks(**options))


def _large(rng, dtype):  # a Case's inputs without the device
    return [randn(rng, (3, 4), dtype) * 1000], "large values"


def test_an_inputs_function_of_the_wrong_signature_is_refused_where_it_is_declared():
    """A Case's inputs take (rng, dtype, device): one that does not is the suite's mistake, said when
    the suite is imported (grade check-course: "cannot be imported"), not an internal error of every test."""
    with pytest.raises(ValueError) as e:
        _declared(
            _checks(
                cases=(Case("large_logits", "large logits", _large),),
                points={"matches_reference": 9, "large_logits": 1},
            )
        )
    line = _large.__code__.co_firstlineno
    assert str(e.value) == (
        f"declare: Case 'large_logits': its inputs, _large ({__file__}:{line}), takes (rng, dtype), and is called with "
        "(rng, dtype, device)"
    )
    with pytest.raises(
        ValueError, match=r"declare: inputs, <lambda> \(.*\), takes \(rng, shape, dtype\), and is called"
    ):
        _declared(_checks(inputs=lambda rng, shape, dtype: ([randn(rng, shape, dtype)], "normal values")))
    _declared(_checks(inputs=lambda *args, **kwargs: None))  # any function that takes them will do


def test_a_declaration_never_replaces_a_test_of_the_suite():
    namespace = {"__name__": "suite", "test_matches_reference": lambda: None}
    with pytest.raises(ValueError, match="already defines test_matches_reference"):
        declare(namespace, _checks())


def test_the_visible_test_is_released_from_the_declaration():
    from grader.harness.released import call_cases, declared, visible_tests

    module = _declared(_checks(mistakes=[(WHOLE, lambda x: torch.exp(x) / torch.exp(x).sum())]))
    assert visible_tests(module) == ["test_matches_reference"] and declared(module) == [module.MATCHES_REFERENCE]
    cases = call_cases(module, module.MATCHES_REFERENCE, "exercise1")
    assert [c["id"] for c in cases] == ["2d-float32", "2d-float64", "3d-float32", "3d-float64"]
    assert {c["weight"] for c in cases} == {10}  # the test's points
    first = cases[0]
    assert first["what"] == "softmax(x)" and first["inputs"] == "x: shape (4, 5), float32 on cpu, normal values"
    assert torch.equal(first["expected"], _softmax(first["args"][0]))
    assert [v["hint"] for v in first["variants"]] == [WHOLE.hint]


def test_without_a_visible_test_nothing_is_released():
    module = _declared(_checks(visible=None))
    assert not hasattr(module, "MATCHES_REFERENCE") and "visible" not in _marks(module.test_matches_reference)


# -- graded: a course exercise declared with the layer ------------------------------------------

SUITE = """
import torch

from grader.suites.common import DTYPES, Case, Checks, Misconception, course_reference, declare, randn, rows_sum_to_one

reference = course_reference(__file__)
NO_MAX = Misconception("no max", {no_max!r})
WHOLE = Misconception("whole", {whole!r})

declare(
    globals(),
    Checks(
        fn="softmax",
        reference=reference.softmax,
        inputs=lambda rng, shape, dtype, device: ([randn(rng, shape, dtype, device, scale=3.0)], "normal values × 3"),
        shapes={{"2d": (4, 5), "3d": (2, 3, 4)}},
        mistakes=[
            (NO_MAX, lambda x: torch.exp(x) / torch.exp(x).sum(-1, keepdim=True)),
            (WHOLE, lambda x: torch.softmax(x.reshape(-1), 0).reshape(x.shape)),
        ],
        properties=(rows_sum_to_one,),
        cases=(
            Case(
                "large_logits",
                "softmax stays finite for logits around ±1000",
                lambda rng, dtype, device: ([randn(rng, (3, 4), dtype, device, scale=1000.0)], "normal values × 1000"),
                prefer=NO_MAX,
            ),
        ),
        gradients=True,
        gradient_shape=(3, 4),
        devices=True,
        unchanged=True,
        points={{
            "matches_reference": 4,
            "large_logits": 1,
            "rows_sum_to_one": 1,
            "input_not_modified": 1,
            "gradcheck": 2,
            "follows_input_device": 1,
        }},
    ),
)
"""

REFERENCE = """
import torch


def softmax(x):
    return torch.softmax(x.double(), -1).to(x.dtype)
"""

RIGHT = """
import torch


def softmax(x):
    e = torch.exp(x - x.amax(-1, keepdim=True))
    return e / e.sum(-1, keepdim=True)
"""

ANSWERS = {
    "right": RIGHT,
    "whole": """
import torch


def softmax(x):
    e = torch.exp(x - x.max())
    return e / e.sum()
""",
    "no_max": """
import torch


def softmax(x):
    return torch.exp(x) / torch.exp(x).sum(-1, keepdim=True)
""",
    "float64_wrong": RIGHT.replace("return e /", "return (1.5 if x.dtype == torch.float64 else 1.0) * e /"),
    "not_normalised": RIGHT.replace("return e / e.sum(-1, keepdim=True)", "return e"),
    "in_place": RIGHT.replace(
        "e = torch.exp(x - x.amax(-1, keepdim=True))", "x -= x.amax(-1, keepdim=True)\n    e = x.exp()"
    ),
    "cpu_tensor": RIGHT.replace("return e /", "return torch.zeros(x.shape) + e /"),
    "wrong_backward": """
import torch


class _Softmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        e = torch.exp(x - x.amax(-1, keepdim=True))
        y = e / e.sum(-1, keepdim=True)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y  # the Jacobian's diagonal only


def softmax(x):
    return _Softmax.apply(x)
""",
}


def _grade_answers(root, zygote, suite: str, reference: str, answers: dict) -> dict:
    """Each answer of ``answers`` graded by a course whose one exercise's suite is ``suite`` and whose
    reference is ``reference``: {answer: its tests' {name: the test as the report has it}}."""
    from grader.course import VARIABLE, load
    from grader.harness.run import grade

    course = root / "course"
    folder = course / "exercise1_row_softmax"
    folder.mkdir(parents=True)
    # the reference beside the suite would be `reference` on sys.path, in place of the built-in one
    (course / "course.toml").write_text(
        'title = "Declared"\npoints = 10\n\n[files]\nreference = "oracles/{stem}.py"\n\n'
        '[[exercise]]\ntopic = "row_softmax"\ntitle = "Softmax"\nnames = ["softmax"]\n'
    )
    (folder / "test_exercise1_row_softmax.py").write_text(suite)
    (course / "oracles").mkdir()
    (course / "oracles" / "exercise1_row_softmax.py").write_text(reference)
    right = textwrap.dedent(answers["right"])
    for kind in ("stub", "solution"):
        (folder / f"{kind}.py").write_text(right)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(VARIABLE, str(course))
        mp.setattr(sys, "path", list(sys.path))  # as it was, after: the suite's folder leaves it
        exercises = load(course).exercises
        out = {}
        for name, text in answers.items():
            submission = root / name
            submission.mkdir()
            (submission / "exercise1_row_softmax.py").write_text(textwrap.dedent(text))
            report = grade(exercises, submission, zygote=zygote).to_dict()
            (exercise,) = report["exercises"]
            assert exercise["status"] == "graded", exercise
            out[name] = {t["name"]: t for t in exercise["tests"]}
    for name, module in list(sys.modules.items()):  # the course's suite and reference, loaded for it
        if str(getattr(module, "__file__", None) or "").startswith(str(root)):
            del sys.modules[name]
    return out


@pytest.fixture(scope="module")
def reports(tmp_path_factory, zygote):
    """Each answer of ANSWERS graded by a course whose one exercise's suite is SUITE: {answer: its
    tests' {name: (score, max_score, hint)}}."""
    suite = SUITE.format(no_max=NO_MAX.hint, whole=WHOLE.hint)
    graded = _grade_answers(tmp_path_factory.mktemp("declared"), zygote, suite, REFERENCE, ANSWERS)
    return {
        name: {t: (test["score"], test["max_score"], test.get("hint") or "") for t, test in tests.items()}
        for name, tests in graded.items()
    }


def _lost(tests: dict) -> dict:
    return {name: hint for name, (score, top, hint) in tests.items() if score < top}


def test_a_right_answer_earns_every_point(reports):
    tests = reports["right"]
    assert _lost(tests) == {}
    assert sum(top for _, top, _ in tests.values()) == 10
    assert {n.split("[")[0] for n in tests} == {
        "test_matches_reference",
        "test_large_logits",
        "test_rows_sum_to_one",
        "test_input_not_modified",
        "test_gradcheck",
        "test_follows_input_device",
    }


def test_a_catalogued_mistake_loses_the_tests_it_fails_named_by_its_hint(reports):
    lost = _lost(reports["whole"])
    compared = {n: h for n, h in lost.items() if n.startswith(("test_matches_reference", "test_large_logits"))}
    assert len(compared) == 6 and set(compared.values()) == {WHOLE.hint}
    assert {h for n, h in lost.items() if n.startswith("test_rows_sum_to_one")} == {rows_sum_to_one.hint}
    assert lost["test_gradcheck"] == FORWARD_FIRST  # the gradient of a wrong forward is not checked


def test_a_mistake_that_shows_on_extreme_values_only_loses_that_case(reports):
    lost = _lost(reports["no_max"])
    assert lost == {"test_large_logits[float32]": NO_MAX.hint, "test_large_logits[float64]": NO_MAX.hint}


def test_a_function_wrong_in_float64_only_loses_the_float64_cases(reports):
    lost = _lost(reports["float64_wrong"])
    assert {n for n in lost if "[" in n} == {n for n in reports["right"] if n.endswith("float64]")}
    assert "test_gradcheck" in lost  # gradcheck runs in float64
    assert "test_input_not_modified" not in lost and "test_follows_input_device" not in lost


def test_a_property_names_a_wrong_result_that_no_mistake_explains(reports):
    lost = _lost(reports["not_normalised"])
    assert lost["test_matches_reference[2d-float32]"] == rows_sum_to_one.hint
    assert lost["test_rows_sum_to_one[3d-float64]"] == rows_sum_to_one.hint


def test_an_input_changed_in_place_loses_the_test_of_it(reports):
    """(and gradcheck: torch refuses an in-place change of a tensor that requires a gradient)"""
    lost = _lost(reports["in_place"])
    assert set(lost) == {"test_input_not_modified", "test_gradcheck"}
    assert "Don't modify the input" in lost["test_input_not_modified"]


def test_a_tensor_made_on_the_cpu_loses_the_device_test_only(reports):
    from grader.verdicts.devices import DEVICE_HINT

    assert _lost(reports["cpu_tensor"]) == {"test_follows_input_device": DEVICE_HINT}


def test_a_backward_that_does_not_match_the_forward_fails_gradcheck_only(reports):
    lost = _lost(reports["wrong_backward"])
    assert list(lost) == ["test_gradcheck"] and "Your backward does not match your forward" in lost["test_gradcheck"]


def test_a_property_is_checked_on_its_own():
    prop = Property("positive", "every entry is positive", lambda y, x: bool((y > 0).all()), "Keep it positive.")
    assert prop.broken(torch.tensor([1.0, -1.0]), [torch.zeros(2)])
    assert not prop.broken(torch.tensor([1.0, 2.0]), [torch.zeros(2)])
    assert not Property("raises", "", lambda y, x: y[5] > 0, "").broken(torch.zeros(2), [torch.zeros(2)])


# -- each option, on a student whose code runs here ------------------------------------------------


class Local:
    """A student whose functions run in this process (the worker's answers, without the worker):
    ``calls`` records the arguments of each call, as the worker would receive them."""

    def __init__(self, **functions):
        self.functions, self.calls = functions, []

    def ref(self, name):
        return self.functions[name]

    def call(self, fn, *args, **kwargs):
        return self.call_and_args(fn, *args, **kwargs)[0]

    def call_and_args(self, fn, *args, _keywords=False, **kwargs):
        copy = lambda a: a.clone() if isinstance(a, torch.Tensor) else a  # the worker's copies
        args, kwargs = [copy(a) for a in args], {k: copy(a) for k, a in kwargs.items() if not k.startswith("_")}
        self.calls.append(args)
        value = fn(*args, **kwargs)
        return (value, args, kwargs or None) if _keywords else (value, args)

    def vjp(self, fn, args, grad_output=None, wrt=(0,), _what=None):
        xs = [a.detach().clone().requires_grad_(i in wrt) for i, a in enumerate(args)]
        out = fn(*xs)
        grads = torch.autograd.grad(out, [xs[i] for i in wrt], grad_output if grad_output is not None else out)
        return out.detach(), list(grads), None


def _right(x):
    e = torch.exp(x - x.amax(-1, keepdim=True))
    return e / e.sum(-1, keepdim=True)


def _only_2d(x):  # right for (n, k), the wrong dimension otherwise
    return _right(x) if x.dim() == 2 else _right(x.transpose(0, -1)).transpose(0, -1)


def _failure(run, *args, **kwargs) -> Failure:
    """The Failure that ``run(*args, **kwargs)`` raises."""
    with pytest.raises(Failure) as e:
        run(*args, **kwargs)
    return e.value


def _x(*shape, scale=1.0):
    return randn(torch.Generator().manual_seed(0), shape, scale=scale)


def test_rows_compares_through_check_rows_whose_probes_name_code_right_for_2d_only():
    student = Local(softmax=_only_2d)
    x = _x(2, 3, 4)
    rows = _failure(lambda: _checks(rows=True).check(student, [x], "normal values"))
    assert rows.hint == ONLY_2D and len(student.calls) > 1  # the probes re-ran the student's code
    assert rows.message.startswith("softmax(x) does not match") and "x: shape (2, 3, 4), float32 on cpu" in rows.message
    assert _failure(lambda: _checks(hint="the formula").check(Local(softmax=_only_2d), [x], "normal values")).hint == (
        "the formula"
    )
    with pytest.raises(ValueError, match=r"Checks\(rows=True\) compares a function of one tensor"):
        _checks(rows=True).check(student, [x, x], "two")


def test_rows_compares_with_the_reference_in_float64_at_the_inputs_magnitude():
    x = _x(3, 4, scale=1000.0)
    on, off = _checks(rows=True), _checks()
    assert on.expected(x).dtype == torch.float64 and off.expected(x).dtype == torch.float32
    assert on.allowed([x], x.dtype) == ROUNDING.at(torch.float32, magnitude(x)) != off.allowed([x], x.dtype)
    released = _declared(_checks(rows=True)).MATCHES_REFERENCE
    assert released.expected(x).dtype == torch.float64 and released.allowed([x], x.dtype) == on.allowed([x], x.dtype)


def test_the_visible_test_makes_no_probe_calls_so_its_last_call_is_its_own_input():
    """(its reproducer replays the student's last call); a hidden test on the same rows probes them."""
    rows = one_tensor([[[0.0, 1.0, 3.0], [2.0, 0.0, 1.0]], [[1.0, 1.0, 0.0], [0.0, 2.0, 2.0]]], "two blocks")
    case = Case("blocks", "softmax of blocks of rows", rows)
    points = {"matches_reference": 9, "blocks": 1}
    for visible, probes in (("blocks", False), ("matches_reference", True)):
        module = _declared(_checks(rows=True, cases=(case,), visible=visible, points=points))
        student = Local(softmax=_only_2d)
        failure = _failure(module.test_blocks, student=student, rng=None, dtype=torch.float32)
        assert (len(student.calls) > 1) == probes and (failure.hint == ONLY_2D) == probes, visible


def test_fallback_names_a_wrong_result_after_the_properties_and_hint_nonfinite_one_with_nan():
    def fallback(result, x):
        return "rows are not normalised" if bool(((result.sum(-1) - 1).abs() > 1e-3).any()) else None

    not_normalised, nan = Local(softmax=lambda x: torch.exp(x)), Local(softmax=lambda x: _right(x) / 0 * 0)
    x = _x(3, 4)
    for rows in (False, True):
        on = _checks(rows=rows, fallback=fallback, hint_nonfinite="nan: subtract the max", hint="the formula")
        assert _failure(on.check, not_normalised, [x], "normal values").hint == "rows are not normalised"
        assert _failure(on.check, nan, [x], "normal values").hint == "nan: subtract the max"
        off = _checks(rows=rows, hint="the formula")
        assert _failure(off.check, not_normalised, [x], "normal values").hint == "the formula"
        assert _failure(off.check, nan, [x], "normal values").hint == "the formula"
    with_property = _checks(properties=(rows_sum_to_one,), fallback=fallback)
    assert _failure(with_property.check, not_normalised, [x], "normal values").hint == rows_sum_to_one.hint
    released = _declared(_checks(hint_nonfinite="nan: subtract the max")).MATCHES_REFERENCE
    assert released.hint_nonfinite == "nan: subtract the max"  # the student edition's, as data


def test_normal_values_and_one_tensor_make_a_declarations_inputs():
    rng = torch.Generator().manual_seed(3)
    (x,), how = normal_values(3.0)(rng, (2, 5), torch.float64, "cpu")
    assert how == "normal values × 3" and torch.equal(
        x, randn(torch.Generator().manual_seed(3), (2, 5), torch.float64, scale=3.0)
    )
    (y,), how = normal_values(1000.0, (6, 5))(rng, torch.float32, "cpu")
    assert how == "normal values × 1000" and y.shape == (6, 5) and y.dtype == torch.float32
    assert normal_values()(rng, (1,), torch.float32, "cpu")[1] == "normal values"
    (z,), how = one_tensor([[0.0, -1000.0]], "a far row")(None, torch.float64, "cpu")
    assert how == "a far row" and z.tolist() == [[0.0, -1000.0]] and z.dtype == torch.float64


def test_sizes_and_inputs_of_give_a_test_on_one_input_its_own_inputs():
    checks = _checks(
        unchanged=True,
        gradients=True,
        sizes={"input_not_modified": (5, 8), "gradcheck": (3, 5)},
        inputs_of={"gradcheck": normal_values(2.0)},
        points={"matches_reference": 8, "input_not_modified": 1, "gradcheck": 1},
    )
    rng = lambda: torch.Generator().manual_seed(7)
    (x,), keywords, how = checks.inputs_for("gradcheck", rng(), torch.float64)
    assert keywords == {}
    assert how == "normal values × 2" and torch.equal(x, randn(rng(), (3, 5), torch.float64, scale=2.0))
    (x,), _, how = checks.inputs_for("input_not_modified", rng(), torch.float32)
    assert how == "normal values" and x.shape == (5, 8)
    student = Local(softmax=_right)
    _declared(checks).test_input_not_modified(student=student, rng=rng())
    assert [tuple(a.shape) for (a,) in student.calls] == [(5, 8)]
    plain = _checks(unchanged=True, points={"matches_reference": 9, "input_not_modified": 1})
    assert plain.inputs_for("input_not_modified", rng(), torch.float32)[0][0].shape == (4, 5)  # the first shape
    with pytest.raises(
        ValueError, match="declare: sizes for follows_input_device, which is not a declared test on one"
    ):
        _declared(_checks(sizes={"follows_input_device": (2, 2)}))
    with pytest.raises(ValueError, match=r"declare: inputs_of\['gradcheck'\], <lambda> .*takes \(rng\)"):
        _declared(_checks(gradients=True, inputs_of={"gradcheck": lambda rng: None}, points=checks.points))


def test_an_input_changed_in_place_is_the_input_of_a_call_of_one_argument():
    """One argument: "the input", its values the failure's evidence; of several, which one, and the input line."""

    def in_place(x, t=1.0):
        x -= x.amax(-1, keepdim=True)
        return _right(x / t)

    one = _declared(_checks(unchanged=True, points={"matches_reference": 9, "input_not_modified": 1}))
    failure = _failure(one.test_input_not_modified, student=Local(softmax=in_place), rng=torch.Generator())
    assert failure.message == "softmax(x) changed the input in place" and failure.expected is not None
    two = _checks(
        reference=lambda x, t: _softmax(x / t),
        inputs=lambda rng, shape, dtype, device: ([randn(rng, shape, dtype, device), 2.0], "normal values"),
        unchanged=True,
        points={"matches_reference": 9, "input_not_modified": 1},
    )
    failure = _failure(_declared(two).test_input_not_modified, student=Local(softmax=in_place), rng=torch.Generator())
    assert failure.message.startswith("softmax(x, t) changed x in place\n  input: x: shape (4, 5), float32 on cpu")


def test_gradient_forward_compares_the_forward_before_the_gradient():
    def whole(x):
        return torch.exp(x) / torch.exp(x).sum()

    mistakes = [(WHOLE, whole)]
    for forward, hint in ((True, WHOLE.hint), (False, FORWARD_FIRST)):
        module = _declared(
            _checks(
                gradients=True,
                gradient_forward=forward,
                mistakes=mistakes,
                points={"matches_reference": 9, "gradcheck": 1},
            )
        )
        student = Local(softmax=whole)
        assert _failure(module.test_gradcheck, student=student, rng=torch.Generator()).hint == hint


def test_edition_gradcheck_releases_the_gradient_check_after_the_visible_test():
    from grader.harness.released import declared

    points = {"matches_reference": 9, "gradcheck": 1}
    module = _declared(
        _checks(gradients=True, gradient_shape=(3, 5), edition_gradcheck=EditionGradcheck(seed=11), points=points)
    )
    released = module.GRADCHECK
    assert isinstance(released, VisibleGradcheck) and declared(module) == [module.MATCHES_REFERENCE, released]
    assert (released.test, released.fn, released.what, released.names, released.seed) == (
        "test_gradcheck",
        ("softmax",),
        "softmax(x)",
        ("x",),
        11,
    )
    assert (
        released.description == "the gradient of your softmax (autograd through your code) matches finite differences"
    )
    (x,) = released.make(torch.Generator().manual_seed(11))
    assert torch.equal(x, randn(torch.Generator().manual_seed(11), (3, 5), torch.float64))  # test_gradcheck's inputs
    own = EditionGradcheck(seed=5, inputs=lambda rng: [randn(rng, (2, 2), torch.float64)], description="d")
    module = _declared(_checks(gradients=True, edition_gradcheck=own, points=points))
    assert module.GRADCHECK.make(torch.Generator())[0].shape == (2, 2) and module.GRADCHECK.description == "d"
    assert not hasattr(_declared(_checks(gradients=True, points=points)), "GRADCHECK")
    with pytest.raises(ValueError, match="declare: edition_gradcheck releases test_gradcheck's check"):
        _declared(_checks(edition_gradcheck=EditionGradcheck(seed=1)))


# -- a call with keyword arguments: softmax(x, dim=0, bias=b) -------------------------------------
# Each check below fails if the keyword arguments are dropped anywhere: the right answer takes them by
# keyword only (no default), and the default of the reference and of every mistake (dim=-1, no bias)
# gives other numbers.

IGNORES_DIM = Misconception("dim ignored", "Normalise along dim, the dimension given, not the last one.")
NO_BIAS = Misconception("bias left out", "Add the bias to the logits first: softmax(x + bias).")


def _biased(x, dim=-1, bias=None):
    z = x.double() + (0 if bias is None else bias.double())
    return torch.softmax(z, dim).to(x.dtype)


def _keyword_inputs(rng, shape, dtype, device):
    return [randn(rng, shape, dtype, device)], {"dim": 0, "bias": randn(rng, shape, dtype, device)}, "normal values"


def _keyword_checks(**options):
    return _checks(
        reference=_biased,
        inputs=_keyword_inputs,
        mistakes=[
            (IGNORES_DIM, lambda x, dim=-1, bias=None: _biased(x, -1, bias)),
            (NO_BIAS, lambda x, dim=-1, bias=None: _biased(x, dim)),
        ],
        **options,
    )


def test_a_keyword_call_is_named_from_the_call_when_what_is_not_given():
    checks, x = _keyword_checks(), torch.zeros(2, 3)
    assert checks.called([x], {"dim": 0, "bias": x}) == "softmax(x, dim=0, bias=bias)"
    assert checks.called([x]) == "softmax(x)"  # as before: the default of a call without keywords
    assert _checks(reference=lambda x, weight, bias=None: x).called([x, x, None], {"stride": (2, 1)}) == (
        "softmax(x, weight, None, stride=(2, 1))"
    )
    assert _keyword_checks(what="softmax(x, dim, bias)").called([x], {"dim": 0}) == "softmax(x, dim, bias)"
    # the default input line: the first argument, then the keyword arguments that are not tensors
    assert checks.shown([x], "zeros", {"dim": 0, "bias": x}) == "x: shape (2, 3), float32 on cpu, zeros, dim=0"
    described = _keyword_checks(describe=lambda x, how, dim, bias: f"{how} along {dim}")
    assert described.shown([x], "zeros", {"dim": 0, "bias": x}) == "zeros along 0"


def test_check_takes_what_an_inputs_function_returns_with_its_keyword_arguments():
    """``check(student, *inputs(...))``: (args, kwargs, how) as (args, how); the reference, the tolerance's
    scale and the catalogue get the keyword arguments."""
    seen = []

    class Answers:  # a student whose softmax is the reference, called as the grader calls it
        def ref(self, name):
            return name

        def call(self, fn, *args, _what=None, **kwargs):
            seen.append((_what, kwargs))
            return _biased(*args, **kwargs)

    scales = []
    checks = _keyword_checks(scale=lambda x, dim, bias: scales.append(dim) or 1.0)
    rng = torch.Generator().manual_seed(0)
    checks.check(Answers(), *_keyword_inputs(rng, (4, 5), torch.float32, "cpu"))
    ((what, kwargs),) = seen
    assert what == "softmax(x, dim=0, bias=bias)" and set(kwargs) == {"dim", "bias"} and scales == [0]
    x, kwargs, _ = _keyword_inputs(rng, (4, 5), torch.float32, "cpu")
    assert [v.misconception for v in checks.variants(*x, **kwargs)] == [IGNORES_DIM, NO_BIAS]
    assert not torch.allclose(checks.variants(*x, **kwargs)[0].compute(), _biased(*x, **kwargs))


def test_the_visible_test_is_released_with_its_keyword_arguments():
    from grader.harness.released import call_cases

    module = _declared(_keyword_checks())
    first = call_cases(module, module.MATCHES_REFERENCE, "exercise1")[0]
    (x,), kwargs = first["args"], first["kwargs"]
    assert kwargs["dim"] == 0 and kwargs["bias"].shape == x.shape
    assert first["what"] == "softmax(x, dim=0, bias=bias)"
    assert first["inputs"] == "x: shape (4, 5), float32 on cpu, normal values, dim=0"
    assert torch.equal(first["expected"], _biased(x, **kwargs)) and not torch.allclose(first["expected"], _biased(x))
    assert [v["hint"] for v in first["variants"]] == [IGNORES_DIM.hint, NO_BIAS.hint]
    without = call_cases(_declared(_checks()), _declared(_checks()).MATCHES_REFERENCE, "exercise1")[0]
    assert "kwargs" not in without  # a call without keyword arguments stores what it stored before


KEYWORD_ANSWERS = {
    "right": """
import torch


def softmax(x, *, dim, bias):
    z = x + bias
    e = torch.exp(z - z.amax(dim, keepdim=True))
    return e / e.sum(dim, keepdim=True)
""",
    "ignores_dim": """
import torch


def softmax(x, *, dim, bias):
    e = torch.exp(x + bias)
    return e / e.sum(-1, keepdim=True)
""",
    "ignores_bias": """
import torch


def softmax(x, *, dim, bias):
    e = torch.exp(x)
    return e / e.sum(dim, keepdim=True)
""",
    "bias_in_place": """
import torch


def softmax(x, *, dim, bias):
    bias += x
    return torch.softmax(bias, dim)
""",
    "no_gradient_for_bias": """
import torch


class _Add(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, b):
        return x + b

    @staticmethod
    def backward(ctx, g):
        return g, torch.zeros_like(g)  # bias's gradient left out


def softmax(x, *, dim, bias):
    return torch.softmax(_Add.apply(x, bias), dim)
""",
}

KEYWORD_SUITE = """
import torch

from grader.suites.common import Checks, Misconception, Property, course_reference, declare, randn

reference = course_reference(__file__)
IGNORES_DIM = Misconception("dim ignored", {ignores_dim!r})
NO_BIAS = Misconception("bias left out", {no_bias!r})


def _sums_to_one(y, x, dim=-1, bias=None):
    return bool((y.sum(dim) - 1).abs().max() < 1e-4)


declare(
    globals(),
    Checks(
        fn="softmax",
        reference=reference.softmax,
        inputs=lambda rng, shape, dtype, device: (
            [randn(rng, shape, dtype, device)],
            {{"dim": 0, "bias": randn(rng, shape, dtype, device)}},
            "normal values",
        ),
        shapes={{"2d": (4, 5), "3d": (2, 3, 4)}},
        mistakes=[
            (IGNORES_DIM, lambda x, dim=-1, bias=None: reference.softmax(x, -1, bias)),
            (NO_BIAS, lambda x, dim=-1, bias=None: reference.softmax(x, dim)),
        ],
        properties=(Property("sums_to_one", "the result sums to 1 along dim", _sums_to_one, "Divide by the sum along dim."),),
        gradients=True,
        gradient_shape=(3, 4),
        devices=True,
        unchanged=True,
        points={{"matches_reference": 4, "sums_to_one": 1, "input_not_modified": 1, "gradcheck": 3, "follows_input_device": 1}},
    ),
)
"""

KEYWORD_REFERENCE = """
import torch


def softmax(x, dim=-1, bias=None):
    z = x.double() + (0 if bias is None else bias.double())
    return torch.softmax(z, dim).to(x.dtype)
"""


@pytest.fixture(scope="module")
def keyword_reports(tmp_path_factory, zygote):
    """Each answer of KEYWORD_ANSWERS graded by KEYWORD_SUITE: {answer: {test: the report's test}}."""
    suite = KEYWORD_SUITE.format(ignores_dim=IGNORES_DIM.hint, no_bias=NO_BIAS.hint)
    return _grade_answers(tmp_path_factory.mktemp("keywords"), zygote, suite, KEYWORD_REFERENCE, KEYWORD_ANSWERS)


def _lost_tests(tests: dict) -> dict:
    return {name: t for name, t in tests.items() if t["score"] < t["max_score"]}


def test_a_function_called_with_keyword_arguments_only_earns_every_point(keyword_reports):
    """The right answer takes dim and bias by keyword, without defaults: each declared test (the
    comparison, the property, the input check, gradcheck, the meta device) passes them."""
    tests = keyword_reports["right"]
    assert _lost_tests(tests) == {} and sum(t["max_score"] for t in tests.values()) == 10
    assert {n.split("[")[0] for n in tests} == {
        "test_matches_reference",
        "test_sums_to_one",
        "test_input_not_modified",
        "test_gradcheck",
        "test_follows_input_device",
    }


@pytest.mark.parametrize("answer, mistake", [("ignores_dim", IGNORES_DIM), ("ignores_bias", NO_BIAS)])
def test_a_mistake_that_shows_only_when_a_keyword_is_honoured_is_named(keyword_reports, answer, mistake):
    lost = _lost_tests(keyword_reports[answer])
    compared = {n: t for n, t in lost.items() if n.startswith("test_matches_reference")}
    assert len(compared) == 4 and {t["hint"] for t in compared.values()} == {mistake.hint}
    assert "softmax(x, dim=0, bias=bias)" in next(iter(compared.values()))["message"]
    if answer == "ignores_dim":  # the property is read along the dim given
        assert {t["hint"] for n, t in lost.items() if n.startswith("test_sums_to_one")} == {
            "Divide by the sum along dim."
        }


def test_a_keyword_tensor_changed_in_place_is_named(keyword_reports):
    lost = _lost_tests(keyword_reports["bias_in_place"])
    assert set(lost) == {"test_input_not_modified", "test_gradcheck"}
    assert "softmax(x, dim=0, bias=bias) changed bias in place" in lost["test_input_not_modified"]["message"]


def test_gradcheck_is_with_respect_to_a_tensor_given_by_keyword_too(keyword_reports):
    lost = _lost_tests(keyword_reports["no_gradient_for_bias"])
    assert list(lost) == ["test_gradcheck"] and "bias" in lost["test_gradcheck"]["message"]


def test_the_student_edition_replays_the_keyword_arguments(zygote, tmp_path):
    """The visible test's case, through JSON as the student edition reads it, called in a worker with
    the keyword arguments: a keyword-only right answer passes, a mistake is named from the stored numbers."""
    import json

    from grader.exercises import lookup
    from grader.harness.released import call_cases
    from grader.transport.limits import Limits
    from grader.transport.student import Student
    from grader.verdicts.checks import Failure
    from grader.verdicts.rules import Rules
    from grader.verdicts.student_check import KINDS, decode, encode

    module = _declared(_keyword_checks())
    case = call_cases(module, module.MATCHES_REFERENCE, "exercise1")[0]
    case = decode(json.loads(json.dumps(encode(case))))
    ex = lookup("1")
    for answer in ("right", "ignores_bias"):
        folder = tmp_path / answer
        folder.mkdir()
        (folder / ex.file).write_text(textwrap.dedent(KEYWORD_ANSWERS[answer]))
        student = Student(ex, folder, zygote, Limits(), tmp_path / f"work-{answer}", rules=Rules())
        try:
            student.begin_test("test_matches_reference")
            if answer == "right":
                KINDS["call"](student, case, "cpu")
            else:
                with pytest.raises(Failure) as failed:
                    KINDS["call"](student, case, "cpu")
                assert failed.value.hint == NO_BIAS.hint
        finally:
            student.close()
