"""Hidden suite for exercise 5: the ReLU layer, elementwise max(x, 0).

Every test runs the student's forward first, so a ReLU that does not work
earns nothing for merely having no parameters.
"""

import pytest
import torch

from grader.suites.common import (
    DTYPE_PARAMS,
    DTYPES,
    EXACT,
    FINITE_DIFFERENCES,
    ROUNDING,
    Misconception,
    VisibleModule,
    assert_close,
    assert_made_object,
    assert_not_torch_class,
    assert_unchanged,
    check,
    check_follows_device,
    describe,
    dtype_str,
    expect_tensor,
    gradcheck,
    randn,
    shape_str,
)
from grader.verdicts.relu import STEP, WHAT
from grader.verdicts.relu import verdict as relu_verdict
from grader.wire.codec import meta

INPLACE_HINT = (
    "Don't modify X in place (`X[X < 0] = 0`, `X.clamp_(min=0)`, `X *= mask`): the caller and autograd "
    "still need the original values. Return a new tensor: `X.clamp(min=0)`."
)
TORCH_RELU = "torch.nn.modules.activation.ReLU"
TORCH_RELU_HINT = (
    "The exercise forbids torch's nn.ReLU, also as a base class: subclass nn.Module and write forward "
    "yourself, e.g. with `X.clamp(min=0)`."
)
MODULE_HINT = "Write `class ReLU(nn.Module):`; if you write an __init__, call `super().__init__()` first in it."

# The likely bugs, recognised from the exact numbers a submission returns (grader.verdicts.relu names them).
IDENTITY = Misconception("identity", "The output equals the input: the negative entries must become 0.")
ABS = Misconception("abs", "That is abs(x): negative entries become 0, they don't change sign.")
MIN = Misconception("min", "That is min(x, 0): ReLU keeps the positive entries and zeroes the negative ones.")


def _buggy_versions(x: torch.Tensor):
    """What each bug computes on x (float64)."""
    yield STEP.gives(lambda: (x > 0).double())
    yield IDENTITY.gives(lambda: x)
    yield ABS.gives(lambda: x.abs())
    yield MIN.gives(lambda: x.clamp(max=0))


# the visible tests' inputs, declared once: the tests make them from here, and so does the student
# edition (grade release stores them with max(x, 0) and what each catalogued mistake returns, as data)
def _visible(test: str, inputs, **options) -> VisibleModule:
    """A visible test of ReLU()(x) on the input that ``inputs`` makes, compared with max(x, 0) exactly."""
    return VisibleModule(
        test=test,
        cls="ReLU",
        args=(),
        name="x",
        inputs=inputs,
        expected=lambda x: x.clamp(min=0),
        tolerance=EXACT,
        forbidden=(TORCH_RELU,),
        forbidden_hint=TORCH_RELU_HINT,
        variants=lambda x: _buggy_versions(x.double()),
        verdict="relu",  # grader.verdicts.relu names the mistake, in the student edition too
        inplace_hint=INPLACE_HINT,
        **options,
    )


SMALL_EXAMPLE = _visible(
    "test_small_example",
    lambda rng: (torch.tensor([[-2.0, 0.0, 3.0], [1.5, -0.5, 0.25]]), "x = [[-2, 0, 3], [1.5, -0.5, 0.25]]"),
    unchanged=True,
)
SPECIAL_VALUES = _visible(
    "test_special_values",
    lambda rng, dtype: (
        torch.tensor([[0.0, -0.0, 1e-30, -1e-30, 5.0], [-5.0, 1e30, -1e30, float("inf"), float("-inf")]], dtype=dtype),
        "rows [0, -0, 1e-30, -1e-30, 5], [-5, 1e30, -1e30, inf, -inf]",
    ),
    params=DTYPE_PARAMS,
)


def _new(student):
    relu = student.call(student.ref("ReLU"), _what="ReLU()")
    assert_made_object(relu, "ReLU()", MODULE_HINT)
    assert_not_torch_class(student, relu, "ReLU", TORCH_RELU, "ReLU()", TORCH_RELU_HINT)
    return relu


def _check(student, relu, x, how, tolerance, device=None):
    """Run the student's forward on x and compare it with max(x, 0)."""
    return _verdict(x, student.call(relu, x, _what=WHAT), describe("x", x, how), tolerance, device)


def _verdict(x, got, inputs, tolerance, device=None):
    """Compare forward's output ``got`` on x with max(x, 0), naming the likely mistake."""
    return relu_verdict(x, got, x.cpu().clamp(min=0), inputs, _buggy_versions, device, tolerance=tolerance)


def _not_in_place(student, relu, x, how, tolerance):
    """Run forward once and fail (with the in-place hint) if it changed x, then check its output."""
    got, args = student.call_and_args(relu, x, _what=WHAT)
    expect_tensor(got, WHAT, describe("x", x, how))
    assert_unchanged(
        args[0], x, what=WHAT, name="its input x", hint=INPLACE_HINT, inputs=describe("x", x, how), evidence=False
    )
    return _verdict(x, got, describe("x", x, how), tolerance)


SHAPES = {"1d": (11,), "2d": (13, 10), "batch64": (64, 10), "3d": (3, 4, 6), "batch1": (1, 7), "mid1": (3, 1, 4)}


@pytest.mark.points(3.5)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_matches_max(student, rng, shape, dtype, device):
    """ReLU()(x) equals max(x, 0) on random inputs of several shapes"""
    x = randn(rng, shape, dtype, device, scale=3.0)
    _check(student, _new(student), x, "normal values × 3", EXACT, device)


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["float16", "bfloat16"])
def test_half_precision(student, rng, dtype):
    """the output keeps a half-precision input's dtype"""
    x = randn(rng, (5, 6), dtype, scale=3.0)
    _check(student, _new(student), x, "normal values × 3", EXACT)


@pytest.mark.visible
@pytest.mark.points(0.5)
def test_small_example(student):
    """the docstring's example and a few more entries: [[-2, 0, 3], [1.5, -0.5, 0.25]]"""
    x, how = SMALL_EXAMPLE.make()
    _not_in_place(student, _new(student), x, how, SMALL_EXAMPLE.tolerance)


@pytest.mark.visible
@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", DTYPES)
def test_special_values(student, dtype):
    """exact zeros, -0.0, tiny and huge values and infinities"""
    x, how = SPECIAL_VALUES.make(dtype=dtype)
    _check(student, _new(student), x, how, SPECIAL_VALUES.tolerance)


@pytest.mark.points(0.5)
def test_input_not_modified(student, rng):
    """forward leaves its input unchanged"""
    relu = _new(student)
    _not_in_place(student, relu, randn(rng, (6, 7), scale=3.0), "normal values × 3", EXACT)


@pytest.mark.points(0.5)
def test_no_parameters(student, rng):
    """ReLU is an nn.Module with a working forward and no parameters or buffers"""
    relu = _new(student)
    _check(student, relu, randn(rng, (4, 5), scale=3.0), "normal values × 3", EXACT)
    info = student.inspect(relu, _what="inspecting ReLU()")
    check(info.get("is_module"), f"ReLU() is not an nn.Module (its type is {info.get('type')})", MODULE_HINT)
    params = [name for name, _t, _h in info.get("params", [])]
    check(
        not params,
        f"ReLU() has parameters {params}; expected none",
        "ReLU has nothing to learn: don't create nn.Parameter objects (compare with a Python 0 or use "
        "torch.zeros_like(X) inside forward).",
    )
    buffers = [name for name, _t in info.get("buffers", [])]
    check(
        not buffers,
        f"ReLU() has buffers {buffers}; expected none",
        "ReLU needs no stored tensors: compare with a Python 0 instead of registering a zero buffer.",
    )


@pytest.mark.points(1.5)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient(student, rng, dtype):
    """backward passes grad_output through where x is positive and blocks it elsewhere"""
    relu = _new(student)
    x = randn(rng, (5, 8), dtype, scale=3.0)
    x = torch.where(x.abs() < 1e-3, torch.full_like(x, 0.5), x)  # the gradient at exactly 0 is a convention
    g = randn(rng, (5, 8), dtype)
    _not_in_place(student, relu, x, "normal values × 3, none near 0", EXACT)
    out, grads, _ = student.vjp(relu, [x], grad_output=g, _what=f"backward through {WHAT}")
    inputs = describe("x", x, "normal values × 3, none near 0") + "; " + describe("grad_output", g, "randn")
    out = expect_tensor(out, WHAT, inputs)
    why = "has no grad_fn" if not meta(out).requires_grad else "does not depend on x"
    check(
        bool(grads) and grads[0] is not None and meta(out).requires_grad,
        f"backward through {WHAT} gave no gradient for x (the output {why})\n  input: {inputs}",
        "Build the output from X with differentiable torch operations (clamp, torch.where, torch.maximum); "
        "no .detach(), .numpy(), .item(), and no comparison result like (X > 0) as the output.",
    )
    grad = expect_tensor(grads[0], f"the gradient of {WHAT}")
    assert_close(
        grad,
        (x > 0).to(dtype) * g,
        what=f"the gradient of {WHAT} for x",
        inputs=inputs,
        tolerance=EXACT,
        hint="The derivative of max(x, 0) is 1 where x > 0 and 0 where x < 0, so the gradient is "
        "grad_output where x > 0 and 0 elsewhere; check the forward with the other tests.",
    )


@pytest.mark.points(0.5)
def test_gradcheck(student, rng):
    """torch.autograd.gradcheck through ReLU in float64, away from the kink at 0"""
    relu = _new(student)
    x = randn(rng, (3, 5), torch.float64)
    x = torch.where(x.abs() < 0.1, torch.full_like(x, 0.3), x)
    _not_in_place(student, relu, x, "randn, none near 0", EXACT)
    gradcheck(student, relu, [x], WHAT, x.clamp(min=0), names=["x"], tolerance=FINITE_DIFFERENCES)


@pytest.mark.points(0.5)
def test_single_row_and_empty(student, rng):
    """a batch of one row, then an empty batch (the output has the input's shape)"""
    relu = _new(student)
    _check(student, relu, randn(rng, (1, 6), scale=3.0), "normal values × 3", EXACT)
    x = torch.zeros((0, 4))
    got = student.call(relu, x, _what=WHAT)
    got = expect_tensor(got, WHAT, describe("x", x, "empty batch"))
    check(
        tuple(got.shape) == (0, 4) and got.dtype == x.dtype,
        f"{WHAT} returned shape {shape_str(got.shape)}, {dtype_str(got.dtype)}, expected (0, 4), float32\n"
        f"  input: {describe('x', x, 'empty batch')}",
        "Use elementwise operations on X (clamp, torch.where, torch.maximum) and return a tensor of X's shape.",
    )


@pytest.mark.points(0.5)
def test_follows_input_device(student, rng):
    """ReLU makes its result on the input's device (checked without a GPU)"""
    relu = _new(student)
    x = randn(rng, (4, 6))
    check_follows_device(student, relu, [x], x.clamp(min=0), WHAT, ["x"], tolerance=ROUNDING)
