"""The misconception catalogue and the error-to-hint table (grader/verdicts/diagnosis.py), and the
checks built on them that need no worker (objects, unchanged inputs)."""

import re

import pytest
import torch

from grader.transport.student import Handle, StudentError
from grader.verdicts.checks import Failure, assert_unchanged
from grader.verdicts.diagnosis import (
    COMMON_ERRORS,
    ErrorHint,
    Misconception,
    call_checked,
    hint_for_error,
    join,
    name_bug,
    name_exact,
    naming_errors,
)
from grader.verdicts.objects import assert_made_object, assert_not_torch_class
from grader.verdicts.tolerances import ROUNDING, Tolerance

X = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 4.0]])
RIGHT = torch.softmax(X, -1)
NO_MAX = Misconception("no max", "subtract the max")
WHOLE = Misconception("whole", "normalise each row")
DOUBLED = Misconception("doubled", "don't multiply by 2")
F32 = ROUNDING.at(torch.float32, 4.0)


def catalogue(x):
    yield NO_MAX.gives(lambda: torch.exp(x) / torch.exp(x).sum(-1, keepdim=True))  # right on moderate x
    yield WHOLE.gives(lambda: torch.exp(x) / torch.exp(x).sum())
    yield DOUBLED.gives(lambda: 2 * torch.softmax(x, -1))


def test_gives_builds_a_variant_of_its_misconception():
    v = NO_MAX.gives(lambda: X)
    assert v.misconception is NO_MAX and torch.equal(v.compute(), X)


def test_name_bug_names_the_variant_that_gives_the_numbers():
    got = torch.exp(X) / torch.exp(X).sum()
    assert name_bug(got, RIGHT, catalogue(X), F32) == WHOLE.hint
    assert name_bug(2 * RIGHT, RIGHT, catalogue(X), F32) == DOUBLED.hint


def test_name_bug_names_nothing_for_unknown_numbers():
    assert name_bug(RIGHT + 0.3, RIGHT, catalogue(X), F32) is None


def test_name_bug_passes_over_a_variant_that_is_right_on_this_input():
    """NO_MAX's variant equals the right answer here, so it cannot be what a wrong result shows."""
    got = RIGHT + 1e-5  # wrong by a little, close to NO_MAX's numbers within SAME_NUMBERS
    assert name_bug(got, RIGHT, catalogue(X), Tolerance(1e-7, 1e-9)) is None


def test_name_bug_matches_within_same_numbers_at_least():
    got = 2 * RIGHT + 5e-5
    assert name_bug(got, RIGHT, catalogue(X), Tolerance(0.0, 0.0)) == DOUBLED.hint
    assert name_bug(2 * RIGHT + 1e-2, RIGHT, catalogue(X), Tolerance(0.0, 0.0)) is None


def test_name_bug_skips_a_variant_that_raises():
    def raising():
        raise RuntimeError("shape mismatch")

    variants = [Misconception("boom", "never").gives(raising), DOUBLED.gives(lambda: 2 * RIGHT)]
    assert name_bug(2 * RIGHT, RIGHT, variants, F32) == DOUBLED.hint


def test_name_bug_first_variant_of_a_misconception_gives_its_hint():
    variants = [
        Misconception("k", "first").gives(lambda: 2 * RIGHT),
        Misconception("k", "second").gives(lambda: 2 * RIGHT),
    ]
    assert name_bug(2 * RIGHT, RIGHT, variants, F32) == "first"


def test_name_bug_joins_several_and_prefer_picks_one():
    variants = [WHOLE.gives(lambda: 2 * RIGHT), DOUBLED.gives(lambda: 2 * RIGHT)]
    joined = name_bug(2 * RIGHT, RIGHT, variants, F32)
    assert joined == f"More than one bug gives exactly this result: (1) {WHOLE.hint} (2) {DOUBLED.hint}"
    assert name_bug(2 * RIGHT, RIGHT, variants, F32, prefer=DOUBLED) == DOUBLED.hint
    assert name_bug(2 * RIGHT, RIGHT, variants, F32, prefer="whole") == WHOLE.hint


def test_name_bug_nan_results_match_a_nan_variant():
    big = X * 1000
    got = torch.exp(big) / torch.exp(big).sum(-1, keepdim=True)  # inf / inf = nan
    assert torch.isnan(got).any()
    variants = [
        NO_MAX.gives(lambda: torch.exp(big) / torch.exp(big).sum(-1, keepdim=True)),
        DOUBLED.gives(lambda: 2 * torch.softmax(big, -1)),
    ]
    assert name_bug(got, torch.softmax(big.double(), -1), variants, ROUNDING.at(torch.float32, 4000)) == NO_MAX.hint


def test_name_bug_shapes_must_agree():
    assert name_bug(RIGHT[0], RIGHT, catalogue(X), F32) is None


def test_join():
    assert join([]) is None and join([None, ""]) is None
    assert join(["a", "a"]) == "a"
    assert join(["a", "b", "c", "d"]) == "More than one bug gives exactly this result: (1) a (2) b (3) c"


def test_name_exact_is_exact_and_first_wins():
    x = torch.tensor([-2.0, 0.5, 3.0])
    step = Misconception("step", "not a step")
    ident = Misconception("identity", "not the input")
    variants = lambda: [step.gives(lambda: (x > 0).double()), ident.gives(lambda: x)]  # noqa: E731
    assert name_exact((x > 0).float(), variants()) == step.hint
    assert name_exact(x.clone(), variants()) == ident.hint
    assert name_exact(x + 1e-6, variants()) is None
    assert name_exact(x[:2], variants()) is None


# -- the error table ----------------------------------------------------------------------


def test_regex_row_fills_the_hint_with_its_groups():
    row = ErrorHint(re.compile(r"size (\d+) vs (\d+)"), "got {0}, wanted {1}")
    assert row.hint_for("RuntimeError: size 3 vs 4") == "got 3, wanted 4"
    assert row.hint_for("something else") is None


def test_text_and_tuple_rows():
    assert (
        ErrorHint("does not require grad", "keep it trainable").hint_for("x does not require grad")
        == "keep it trainable"
    )
    both = ErrorHint(("element 0", "does not require grad"), "both")
    assert both.hint_for("element 0 of tensors does not require grad") == "both"
    assert both.hint_for("element 1 of tensors does not require grad") is None


def test_callable_rows_may_decline():
    row = ErrorHint(re.compile(r"index (\d)"), lambda m: "small" if int(m.group(1)) < 2 else None)
    assert row.hint_for("index 1") == "small" and row.hint_for("index 7") is None
    assert ErrorHint("oops", lambda message: message.upper()).hint_for("oops!") == "OOPS!"


def test_hint_for_error_takes_the_first_row_that_gives_a_hint():
    table = [ErrorHint("a", lambda m: None), ErrorHint("a", "second"), ErrorHint("a", "third")]
    assert hint_for_error("a", table) == "second"
    assert hint_for_error("b", table) is None


def test_common_errors():
    assert "hard-coded" in hint_for_error("shape '[64, 1]' is invalid for input of size 13", COMMON_ERRORS)
    assert "The batch size 64" in hint_for_error("shape '[64, -1]' is invalid for input of size 13", COMMON_ERRORS)
    assert "x.max(dim=-1, keepdim=True).values" in hint_for_error(
        "unsupported operand type(s) for -: 'Tensor' and 'torch.return_types.max'", COMMON_ERRORS
    )
    assert hint_for_error("expected a tensor output, got list", COMMON_ERRORS).startswith(
        "Return a torch.Tensor, not list"
    )


def _raise(kind, message):
    raise StudentError(kind, message, "the generic hint", request="r")


def test_naming_errors_uses_diagnose_first_then_the_table():
    with pytest.raises(StudentError) as exc:
        with naming_errors(lambda got: "from the catalogue", [ErrorHint("boom", "from the table")]):
            _raise("exception", "boom")
    assert exc.value.hint == "from the catalogue" and exc.value.details == {"request": "r"}
    with pytest.raises(StudentError) as exc:
        with naming_errors(lambda got: None, [ErrorHint("boom", "from the table")]):
            _raise("exception", "boom")
    assert exc.value.hint == "from the table"


def test_naming_errors_keeps_the_error_when_nothing_names_it():
    with pytest.raises(StudentError) as exc:
        with naming_errors(None, [ErrorHint("boom", "from the table")]):
            _raise("exception", "bang")
    assert exc.value.hint == "the generic hint"


def test_naming_errors_leaves_crashes_and_timeouts_alone():
    with pytest.raises(StudentError) as exc:
        with naming_errors(lambda got: "never", [ErrorHint("boom", "never")]):
            _raise("timeout", "boom")
    assert exc.value.hint == "the generic hint"


class FakeStudent:
    def __init__(self, error=None, bases=()):
        self.error, self.bases = error, list(bases)

    def call(self, fn, *args, **kwargs):
        if self.error:
            raise StudentError("exception", self.error, None)
        return fn(*args)

    def ref(self, name):
        return name

    def inspect(self, ref, _what=""):
        return {"bases": self.bases}


def test_call_checked_passes_the_suites_table():
    assert call_checked(FakeStudent(), lambda a: a + 1, 1, diagnose=None) == 2
    with pytest.raises(StudentError) as exc:
        call_checked(FakeStudent("grad is None"), None, errors=[ErrorHint("grad is None", "call backward")])
    assert exc.value.hint == "call backward"


# -- objects and unchanged inputs ---------------------------------------------------------

TORCH_RELU = "torch.nn.modules.activation.ReLU"


def test_assert_made_object():
    assert_made_object(Handle(1, "solution.ReLU"), "ReLU()", "subclass nn.Module")
    for value in (Handle(2, "torch.Tensor"), None, 3):
        with pytest.raises(Failure, match=r"^ReLU\(\) did not make a layer object$") as exc:
            assert_made_object(value, "ReLU()", "subclass nn.Module")
        assert exc.value.hint == "subclass nn.Module"


def test_assert_not_torch_class_by_type_and_by_base():
    own = Handle(1, "solution.ReLU")
    assert_not_torch_class(
        FakeStudent(bases=["torch.nn.modules.module.Module"]), own, "ReLU", TORCH_RELU, "ReLU()", "h"
    )
    with pytest.raises(Failure) as exc:
        assert_not_torch_class(FakeStudent(bases=[TORCH_RELU]), own, "ReLU", TORCH_RELU, "ReLU()", "write it")
    assert exc.value.message == f"ReLU() is (or derives from) torch's own {TORCH_RELU}"
    assert exc.value.hint == "write it"
    with pytest.raises(Failure, match="torch's own torch.nn.modules.linear.LazyLinear"):
        assert_not_torch_class(
            FakeStudent(),
            Handle(3, "torch.nn.modules.linear.LazyLinear"),
            "Linear",
            ("torch.nn.modules.linear.Linear", "torch.nn.modules.linear.LazyLinear"),
            "Linear(3, 2)",
            "h",
            bases=[],
        )


def test_assert_unchanged():
    x = torch.tensor([1.0, -2.0])
    assert_unchanged(x.clone(), x, what="f(x)")
    with pytest.raises(Failure) as exc:
        assert_unchanged(x.clamp(min=0), x, what="f(x)", name="its input x", inputs="x: shape (2,)", hint="h")
    assert exc.value.message == "f(x) changed its input x in place\n  input: x: shape (2,)"
    assert exc.value.hint == "h" and torch.equal(exc.value.expected, x)
    with pytest.raises(Failure) as exc:
        assert_unchanged(x.reshape(2, 1), x, what="f(x)", evidence=False)
    assert exc.value.expected is None and exc.value.got is None
    with pytest.raises(Failure, match="returned list"):
        assert_unchanged([1.0], x, what="f(x)")
