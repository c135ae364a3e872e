"""Hidden suite for exercise 1: softmax over the last dimension."""

import pytest
import torch

import reference
from grader.suites.common import (
    DTYPES,
    FINITE_DIFFERENCES,
    NO_KEEPDIM,
    ROUGHLY_NORMALISED,
    ROUNDING,
    Misconception,
    VisibleGradcheck,
    assert_unchanged,
    check_follows_device,
    check_rows,
    gradcheck,
    on_one_tensor,
    randn,
    wrong_dim_hint,
)

SHAPES = {
    "1d": (7,),
    "2d": (13, 10),
    "batch64": (64, 10),
    "square": (6, 6),
    "3d": (3, 4, 6),
    "single": (1, 1),
    "batch1": (1, 6),
    "mid1": (3, 1, 4),
    "lead1": (1, 3, 5),
}
WHAT = "softmax(x)"  # what check_rows calls it

FORMULA = (
    "softmax(v)_i = exp(v_i - m) / sum_j exp(v_j - m), with m = v.max(dim=-1, keepdim=True).values, "
    "over the LAST dimension"
)

# The likely bugs, recognised from the numbers a submission returns.
NO_MAX = Misconception(
    "no max",
    (
        "exp() overflowed: exp(1000.) is inf and inf / inf = nan (and when every exp() underflows to 0, "
        "0 / 0 = nan). Subtract each row's max before exp: z = x - x.max(dim=-1, keepdim=True).values, "
        "then exp(z) / exp(z).sum(dim=-1, keepdim=True)."
    ),
)
GLOBAL_MAX = Misconception(
    "global max",
    (
        "You subtract the max of the whole tensor, not each row's own max: a row far below the global max "
        "underflows to exp(...) = 0 everywhere and 0 / 0 = nan. Use x.max(dim=-1, keepdim=True).values."
    ),
)
WHOLE_TENSOR = Misconception(
    "whole",
    (
        "You normalise over the whole tensor; softmax normalises each slice along the LAST dimension "
        "separately: .sum(dim=-1, keepdim=True)."
    ),
)
LOST_KEEPDIM = Misconception("keepdim", NO_KEEPDIM)
NOT_NORMALISED = "Every slice along the last dimension must sum to 1: divide by .sum(dim=-1, keepdim=True). " + FORMULA


def _softmax(v, dim, keepdim=True):
    e = torch.exp(v - v.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=keepdim)


def _buggy_versions(x: torch.Tensor):
    """What each bug computes on x, in x's dtype so overflow shows the same way."""
    yield NO_MAX.gives(lambda: torch.exp(x) / torch.exp(x).sum(-1, keepdim=True))
    yield WHOLE_TENSOR.gives(lambda: _softmax(x.reshape(-1), 0).reshape(x.shape))
    yield GLOBAL_MAX.gives(lambda: torch.exp(x - x.max()) / torch.exp(x - x.max()).sum(-1, keepdim=True))
    yield LOST_KEEPDIM.gives(lambda: _softmax(x, -1, keepdim=False))
    yield LOST_KEEPDIM.gives(lambda: _softmax(x - x.amax(-1), -1))
    for d in range(x.dim() - 1):
        yield Misconception("dim", wrong_dim_hint(d, "softmax")).gives(lambda d=d: _softmax(x, d))


def _properties(g, x):
    """A hint from what is wrong with the values ``g`` (of the right shape)."""
    if bool((~torch.isfinite(g)).any()):
        return NO_MAX.hint if x.abs().max() > 80 else "nan or inf although the inputs are moderate. " + FORMULA
    if not ROUGHLY_NORMALISED.allows(g.sum(-1), torch.ones(g.shape[:-1], dtype=g.dtype)):
        return NOT_NORMALISED
    return "Check each part of the formula: " + FORMULA


# the visible test's inputs, declared once: the test below makes them from here, and so does the
# student edition (grade release stores them with the reference's result, as data)
FAR_APART = on_one_tensor(
    "test_far_apart_logits",
    "softmax",
    [[0.0, -1000.0, -1000.0], [1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]],
    "rows [0, -1000, -1000], [1000, 0, -1000], [-1000, -1000, -1000]",
    reference.softmax,
    variants=_buggy_versions,
    prefer=NO_MAX,
    hint="Check each part of the formula: " + FORMULA,
    hint_nonfinite=NO_MAX.hint,
)


def _check(student, x, how, device, tolerance, prefer=None, probing=True, return_args=False):
    return check_rows(
        student,
        "softmax",
        reference.softmax,
        x,
        how,
        device,
        tolerance=tolerance,
        bugs=_buggy_versions,
        fallback=_properties,
        prefer=prefer,
        probing=probing,
        return_args=return_args,
    )


@pytest.mark.points(5)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_matches_reference(student, rng, shape, dtype, device):
    """softmax(x) matches the reference on random inputs of several shapes"""
    x = randn(rng, shape, dtype, device, scale=3.0)
    _check(student, x, "normal values × 3", device, ROUNDING)


@pytest.mark.points(1.5)
@pytest.mark.parametrize("dtype", DTYPES)
def test_large_logits(student, rng, dtype, device):
    """softmax stays finite and correct for logits around ±1000"""
    x = randn(rng, (6, 5), dtype, device, scale=1000.0)
    _check(student, x, "normal values × 1000", device, ROUNDING, prefer=NO_MAX)


@pytest.mark.visible
@pytest.mark.points(1.5)
@pytest.mark.parametrize("dtype", DTYPES)
def test_far_apart_logits(student, dtype, device):
    """softmax of rows like [0, -1000] and [1000, 0, -1000]"""
    (x,), how = FAR_APART.make(dtype=dtype, device=device)
    # visible: no probe calls, so the student's last call is this input
    _check(student, x, how, device, ROUNDING, prefer=NO_MAX, probing=False)


@pytest.mark.points(0.5)
def test_input_not_modified(student, rng):
    """softmax gives the right result and leaves its input unchanged"""
    x = randn(rng, (5, 8), scale=3.0)
    _, args = _check(student, x, "normal values × 3", "cpu", ROUNDING, return_args=True)
    assert_unchanged(args[0], x, what=WHAT)


# the student edition's gradcheck: the same check on inputs of its own (no expected value leaves here)
GRADCHECK = VisibleGradcheck(
    test="test_gradcheck",
    fn=("softmax",),
    what=WHAT,
    names=("x",),
    inputs=lambda rng: [randn(rng, (3, 5), torch.float64)],
    description="the gradient of your softmax (autograd through your code) matches finite differences",
    seed=1001,
)


@pytest.mark.points(1)
def test_gradcheck(student, rng):
    """torch.autograd.gradcheck through softmax in float64"""
    x = randn(rng, (3, 5), torch.float64)
    gradcheck(
        student, student.ref("softmax"), [x], WHAT, reference.softmax(x), names=["x"], tolerance=FINITE_DIFFERENCES
    )


@pytest.mark.points(0.5)
def test_follows_input_device(student, rng):
    """softmax makes its result on the input's device (checked without a GPU)"""
    x = randn(rng, (4, 6), scale=3.0)
    check_follows_device(
        student, student.ref("softmax"), [x], reference.softmax(x.double()).float(), WHAT, ["x"], tolerance=ROUNDING
    )
