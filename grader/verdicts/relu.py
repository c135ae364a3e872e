"""Exercise 5's verdict: what ReLU()'s forward returned, compared with max(x, 0), its likely
mistake named from the exact numbers.

Shared by the hidden suite (``grader.suites.test_exercise5_relu``, whose catalogue computes
each wrong variant) and the student edition's check (``grader.verdicts.student_check``, whose
catalogue is the numbers ``grade release`` stored): nothing here computes an answer, so the
student edition names a mistake in the same words as the grader.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

from grader.verdicts.checks import Failure, assert_close, dtype_str
from grader.verdicts.diagnosis import Misconception, Variant, name_exact

WHAT = "ReLU()(x)"
DTYPE_HINT = (
    "The output must keep X's dtype. Don't create a fresh zeros tensor with a fixed dtype or device: "
    "`torch.zeros(X.shape)` is float32 on the CPU whatever X is, and torch.maximum then promotes the "
    "result; don't call .float()/.double() either. Compare with a Python 0 (`X.clamp(min=0)`, "
    "`torch.where(X > 0, X, 0)`) or use `torch.zeros_like(X)`."
)
STEP = Misconception(
    "step",
    (
        "ReLU is not a step function: positive entries keep their value (ReLU(3) = 3, not 1). "
        "Use `X.clamp(min=0)` or `torch.where(X > 0, X, 0)`."
    ),
)
INF_TIMES_ZERO = (
    "The output is nan where x is infinite: `X * (X > 0)` computes -inf·0 = nan. "
    "Select instead of multiplying: `X.clamp(min=0)` or `torch.where(X > 0, X, 0)`."
)
FORMULA = "ReLU(x) = max(x, 0) elementwise: negative entries become 0, the others are passed through unchanged."

# the catalogue: what each likely bug gives on an input x (float64, on the CPU)
Bugs = Callable[[torch.Tensor], Iterable[Variant]]


def hint(x, got, bugs: Bugs) -> str:
    """Name the likely misconception from what came back."""
    if isinstance(got, torch.Tensor) and got.shape == x.shape:
        g, xd = got.detach().double().cpu(), x.detach().double().cpu()
        named = name_exact(g, bugs(xd))
        if named:
            return named
        if bool((torch.isnan(g) & torch.isinf(xd)).any()):
            return INF_TIMES_ZERO
        leak = _leak(g, xd)
        if leak is not None:
            return (
                f"Negative entries were multiplied by {leak:.4g} (a leaky ReLU); ReLU sets them to 0 and "
                "passes the others through: `X.clamp(min=0)` or `torch.where(X > 0, X, 0)`."
            )
    return FORMULA


def _leak(g, x):
    """The slope a when the positive entries are right and every negative one came back as a * x (a not 0)."""
    pos, neg = (x > 0) & torch.isfinite(x), (x < -1e-3) & torch.isfinite(x)
    if int(neg.sum()) < 2 or not torch.equal(g[pos], x[pos]):
        return None
    ratios = g[neg] / x[neg]
    a = float(ratios.median())
    if a == 0 or not math.isfinite(a) or float((ratios - a).abs().max()) > 1e-3 * abs(a):
        return None
    return a


def verdict(x, got, expected, inputs: str, bugs: Bugs, device=None, **tolerance):
    """Compare forward's output ``got`` on x with ``expected`` (max(x, 0)), naming the likely mistake;
    ``tolerance``: assert_close's (a preset, or rtol and atol)."""
    if isinstance(got, torch.Tensor) and got.shape == x.shape and got.dtype != x.dtype:
        # a step function returns (x > 0).float() or a bool tensor: say so before the dtype
        if hint(x.cpu(), got, bugs) == STEP.hint:
            raise Failure(
                f"{WHAT} returned the step function x > 0 (as {dtype_str(got.dtype)})\n  input: {inputs}", STEP.hint
            )
        raise Failure(
            f"{WHAT} returned {dtype_str(got.dtype)}, expected {dtype_str(x.dtype)} (the input's dtype)"
            f"\n  input: {inputs}",
            DTYPE_HINT,
        )
    return assert_close(
        got,
        expected,
        what=WHAT,
        inputs=inputs,
        dtype=x.dtype,
        device=device,
        hint=hint(x.cpu(), got, bugs),
        **tolerance,
    )
