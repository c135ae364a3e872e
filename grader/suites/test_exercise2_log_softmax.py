"""Hidden suite for exercise 2: a numerically stable log-softmax over the last dimension."""

import pytest
import torch

import reference
from grader.suites.common import (
    DTYPES,
    FINITE_DIFFERENCES,
    NO_KEEPDIM,
    ROUNDING,
    Misconception,
    VisibleGradcheck,
    assert_unchanged,
    check_follows_device,
    check_rows,
    gradcheck,
    magnitude,
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
WHAT = "log_softmax(x)"  # what check_rows calls it

FORMULA = "log_softmax(v)_i = (v_i - m) - log(sum_j exp(v_j - m)), with m = v.max(dim=-1, keepdim=True).values"

# The likely bugs, recognised from the numbers a submission returns.
NO_MAX = Misconception(
    "no max",
    (
        "exp() overflowed or underflowed: subtract each row's max m before exp "
        "(exp(1000.) is inf, and when every exp(v_j) underflows to 0, log(0) = -inf). " + FORMULA
    ),
)
LOG_OF_SOFTMAX = Misconception(
    "log",
    (
        "This looks like log(softmax(x)): a tiny probability such as exp(-1000) underflows to 0 "
        "and log(0) = -inf. Stay in log space: (x - m) - log(sum(exp(x - m))) is always finite."
    ),
)
LOG_OF_SOFTMAX_NO_MAX = Misconception(
    "log", LOG_OF_SOFTMAX.hint + " Subtract the row max before exp() as well: exp(1000.) is inf."
)
GLOBAL_MAX = Misconception(
    "global max",
    (
        "You subtract the max of the whole tensor, not each row's own max: a row far below the global "
        "max underflows to exp(...) = 0 and log(0) = -inf. Use x.max(dim=-1, keepdim=True).values."
    ),
)
SHIFT_ONE_TERM_HINT = (
    "The max shift m is applied to only one of the two terms: the answer is "
    "(x - m) - log(sum(exp(x - m))); x - log(sum(exp(x - m))) is off by m."
)
SHIFT_ONE_TERM = Misconception("shift", SHIFT_ONE_TERM_HINT)
RETURNED_SOFTMAX = Misconception("softmax", "You returned the softmax itself; take the log-probabilities: " + FORMULA)
WHOLE_TENSOR = Misconception(
    "whole",
    (
        "You summed over the whole tensor; log-softmax normalises each slice along the LAST "
        "dimension: .sum(dim=-1, keepdim=True)."
    ),
)
LOST_KEEPDIM = Misconception("keepdim", NO_KEEPDIM)
POSITIVE = "Log-probabilities are never positive. " + FORMULA


def _lse(v, dim):
    m = v.amax(dim=dim, keepdim=True)
    return m + torch.log(torch.exp(v - m).sum(dim=dim, keepdim=True))


def _buggy_versions(x: torch.Tensor):
    """What each bug computes on x, in x's dtype so overflow shows the same way.
    Versions of one bug share its name; the first matching version gives its hint."""
    m = x.amax(dim=-1, keepdim=True)
    yield NO_MAX.gives(lambda: x - torch.log(torch.exp(x).sum(-1, keepdim=True)))
    yield Misconception("no max", SHIFT_ONE_TERM_HINT).gives(
        lambda: (x - m) - torch.log(torch.exp(x).sum(-1, keepdim=True))
    )
    yield LOG_OF_SOFTMAX.gives(lambda: torch.log(torch.exp(x - m) / torch.exp(x - m).sum(-1, keepdim=True)))
    yield LOG_OF_SOFTMAX_NO_MAX.gives(lambda: torch.log(torch.exp(x) / torch.exp(x).sum(-1, keepdim=True)))
    g = x.max() if x.numel() else x.new_zeros(())
    yield GLOBAL_MAX.gives(lambda: (x - g) - torch.log(torch.exp(x - g).sum(-1, keepdim=True)))
    yield SHIFT_ONE_TERM.gives(lambda: x - torch.log(torch.exp(x - m).sum(-1, keepdim=True)))
    yield RETURNED_SOFTMAX.gives(lambda: torch.exp(x - _lse(x, -1)))
    for keep_max, keep_sum in ((False, False), (False, True), (True, False)):

        def no_keepdim(keep_max=keep_max, keep_sum=keep_sum):
            z = x - x.amax(-1, keepdim=keep_max)
            return z - torch.log(torch.exp(z).sum(-1, keepdim=keep_sum))

        yield LOST_KEEPDIM.gives(no_keepdim)
    yield WHOLE_TENSOR.gives(lambda: x - _lse(x.reshape(-1), 0))
    for d in range(x.dim() - 1):
        yield Misconception("dim", wrong_dim_hint(d, "log-softmax")).gives(lambda d=d: x - _lse(x, d))


def _properties(g, x):
    """A hint from what is wrong with the values ``g`` (of the right shape)."""
    finite = torch.isfinite(reference.log_softmax(x.detach().cpu().double()))
    if bool((torch.isneginf(g) & finite).any()):
        return LOG_OF_SOFTMAX.hint
    if bool(((torch.isnan(g) | torch.isposinf(g)) & finite).any()):
        return NO_MAX.hint
    if bool((g > ROUNDING.at(x.dtype, magnitude(x)).atol).any()):  # above 0 by more than rounding
        return POSITIVE
    return "Check each term of the formula: " + FORMULA


# the visible test's inputs, declared once: the test below makes them from here, and so does the
# student edition (grade release stores them with the reference's result, as data)
FAR_APART = on_one_tensor(
    "test_far_apart_logits",
    "log_softmax",
    [[0.0, -1000.0, -1000.0], [0.0, -1000.0, 0.0], [-500.0, 0.0, -1000.0]],
    "rows [0, -1000, -1000], [0, -1000, 0], [-500, 0, -1000]",
    reference.log_softmax,
    variants=_buggy_versions,
    prefer=LOG_OF_SOFTMAX,
    hint="Check each part of the formula: " + FORMULA,
    hint_nonfinite=LOG_OF_SOFTMAX.hint,
)


def _check(student, x, how, device, tolerance, prefer=None, probing=True, return_args=False):
    return check_rows(
        student,
        "log_softmax",
        reference.log_softmax,
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


@pytest.mark.points(3.5)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_matches_reference(student, rng, shape, dtype, device):
    """log_softmax(x) matches the reference on random inputs of several shapes"""
    x = randn(rng, shape, dtype, device, scale=3.0)
    _check(student, x, "normal values × 3", device, ROUNDING)


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", DTYPES)
def test_large_logits(student, rng, dtype, device):
    """log_softmax stays finite and correct for logits around ±1000"""
    x = randn(rng, (6, 5), dtype, device, scale=1000.0)
    _check(student, x, "normal values × 1000", device, ROUNDING)


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", DTYPES)
def test_shifted_logits(student, rng, dtype, device):
    """log_softmax of rows that all lie near +1000 or near -1000"""
    offsets = torch.tensor([[1000.0], [-1000.0], [750.0], [-750.0]], dtype=torch.float64)
    x = (randn(rng, (4, 5), torch.float64, scale=3.0) + offsets).to(dtype).to(device)
    _check(student, x, "rows of normal values × 3 plus 1000, -1000, 750 and -750", device, ROUNDING, prefer=NO_MAX)


@pytest.mark.visible
@pytest.mark.points(1.5)
@pytest.mark.parametrize("dtype", DTYPES)
def test_far_apart_logits(student, dtype, device):
    """log_softmax stays finite for rows like [0, -1000] where a probability underflows to 0"""
    (x,), how = FAR_APART.make(dtype=dtype, device=device)
    # visible: no probe calls, so the student's last call is this input
    _check(student, x, how, device, ROUNDING, prefer=LOG_OF_SOFTMAX, probing=False)


@pytest.mark.points(0.5)
def test_input_not_modified(student, rng):
    """log_softmax gives the right result and leaves its input unchanged"""
    x = randn(rng, (5, 8), scale=3.0)
    _, args = _check(student, x, "normal values × 3", "cpu", ROUNDING, return_args=True)
    assert_unchanged(args[0], x, what=WHAT)


# the student edition's gradcheck: the same check on inputs of its own (no expected value leaves here)
GRADCHECK = VisibleGradcheck(
    test="test_gradcheck",
    fn=("log_softmax",),
    what=WHAT,
    names=("x",),
    inputs=lambda rng: [randn(rng, (2, 3, 4), torch.float64)],
    description="the gradient of your log_softmax (autograd through your code) matches finite differences",
    seed=1002,
)


@pytest.mark.points(1.5)
def test_gradcheck(student, rng):
    """torch.autograd.gradcheck through log_softmax in float64"""
    x = randn(rng, (2, 3, 4), torch.float64, scale=2.0)
    _check(student, x, "normal values × 2", "cpu", ROUNDING)
    gradcheck(
        student,
        student.ref("log_softmax"),
        [x],
        WHAT,
        reference.log_softmax(x),
        names=["x"],
        tolerance=FINITE_DIFFERENCES,
    )


@pytest.mark.points(1)
def test_follows_input_device(student, rng):
    """log_softmax makes its result on the input's device (checked without a GPU)"""
    x = randn(rng, (4, 6), scale=3.0)
    check_follows_device(
        student,
        student.ref("log_softmax"),
        [x],
        reference.log_softmax(x.double()).float(),
        WHAT,
        ["x"],
        tolerance=ROUNDING,
    )
