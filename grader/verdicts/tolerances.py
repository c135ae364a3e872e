"""How close is right: the tolerance rule and its named presets.

Every comparison in the suites allows ``|got - expected| <= atol + rtol·|expected|``
(the text a report shows).  A test states which preset it uses, by name, where it
compares: ``ROUNDING`` for "what every correct implementation meets in this dtype
at this magnitude", ``EXACT`` for results with no rounding at all, and a few fixed
pairs named after what they are for.  A preset is resolved for one comparison with
``preset.at(dtype, scale)``; a fixed preset ignores both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "Tolerance",
    "Rounding",
    "Scaled",
    "EXACT",
    "ROUNDING",
    "FINITE_DIFFERENCES",
    "FORWARD_BEFORE_GRADIENT",
    "SAME_NUMBERS",
    "SAME_NUMBERS_FINE",
    "SAME_FIGURES",
    "RIGHT_ANYWAY",
    "ROUGHLY_NORMALISED",
    "SAME_RATIO",
    "TRAINING_FLOAT64",
    "TRAINING_FLOAT32",
    "FRACTION",
    "magnitude",
    "tol",
]


@dataclass(frozen=True)
class Tolerance:
    """A fixed allowance: ``|got - expected| <= atol + rtol·|expected|``."""

    rtol: float
    atol: float

    def at(self, dtype: torch.dtype | None = None, scale: float = 1.0) -> Tolerance:
        return self

    def __iter__(self):  # rtol, atol = tolerance
        return iter((self.rtol, self.atol))

    def at_least(self, other: Tolerance) -> Tolerance:
        """The looser of the two in each part."""
        return Tolerance(max(self.rtol, other.rtol), max(self.atol, other.atol))

    @property
    def text(self) -> str:
        return f"|got - expected| <= {self.atol:.1g} + {self.rtol:.1g}·|expected|"

    def allows(self, got, expected, *, nan_equal: bool = False) -> bool:
        """Whether ``got`` is within this tolerance of ``expected``: tensors of the same shape
        (torch.allclose), or Python numbers.  Infinities must be equal; nan matches nan
        only with ``nan_equal``."""
        if isinstance(got, torch.Tensor) or isinstance(expected, torch.Tensor):
            return (
                isinstance(got, torch.Tensor)
                and isinstance(expected, torch.Tensor)
                and got.shape == expected.shape
                and bool(torch.allclose(got, expected, rtol=self.rtol, atol=self.atol, equal_nan=nan_equal))
            )
        got, expected = float(got), float(expected)
        if math.isnan(got) or math.isnan(expected):
            return nan_equal and math.isnan(got) and math.isnan(expected)
        if math.isinf(got) or math.isinf(expected):
            return got == expected
        return abs(got - expected) <= self.atol + self.rtol * abs(expected)


@dataclass(frozen=True)
class Rounding:
    """The rule for results that rounding makes inexact: (rtol, atol) that every correct
    implementation meets in ``dtype`` when the inputs' magnitude is about ``scale``.

    Rounding an input of magnitude s costs about eps·s in absolute terms (x - logsumexp(x)
    at ±1000 in float32 is ~6e-5 off), so only the absolute part grows with the scale;
    the relative part stays tight.  Integer and bool results are exact; a scale below 1,
    or one that is not a finite number (an input holding inf or nan), counts as 1."""

    def at(self, dtype: torch.dtype, scale: float = 1.0) -> Tolerance:
        if not (dtype.is_floating_point or dtype.is_complex):
            return EXACT
        s = float(scale)
        s = s if math.isfinite(s) and s > 1.0 else 1.0
        if dtype == torch.float64:
            return Tolerance(1e-7, 1e-9 * s)
        if dtype == torch.float32:
            return Tolerance(1e-5, max(1e-6, 16 * torch.finfo(torch.float32).eps * s))
        return Tolerance(1e-2, 1e-2 * s)  # float16, bfloat16 (and complex numbers)


@dataclass(frozen=True)
class Scaled:
    """Both parts fixed for values of magnitude up to 1, the absolute part growing with the
    magnitude beyond: atol·max(1, scale)."""

    rtol: float
    atol: float

    def at(self, dtype: torch.dtype | None = None, scale: float = 1.0) -> Tolerance:
        return Tolerance(self.rtol, self.atol * max(1.0, float(scale)))


# -- the presets, named after what they are for ---------------------------------------------

EXACT = Tolerance(0.0, 0.0)
"""No rounding at all: ReLU, copies, a layer that must return its input, parameters never touched."""

ROUNDING = Rounding()
"""The default: what every correct implementation meets in the result's dtype at the inputs' magnitude."""

FINITE_DIFFERENCES = Tolerance(rtol=1e-3, atol=1e-5)
"""torch.autograd.gradcheck in float64: the student's backward against finite differences of the forward."""

FORWARD_BEFORE_GRADIENT = Scaled(rtol=1e-7, atol=1e-7)
"""The float64 forward that gradcheck requires right before it judges the gradient."""

SAME_NUMBERS = Tolerance(rtol=1e-4, atol=1e-4)
"""Recognising a known bug: the student's numbers are those that a wrong variant computes
(also the least that name_bug allows, whatever the comparison's own tolerance)."""

SAME_NUMBERS_FINE = Tolerance(rtol=1e-4, atol=1e-6)
"""Recognising a known bug in parameter updates and training figures (small steps)."""

SAME_FIGURES = Tolerance(rtol=1e-5, atol=1e-8)
"""Recognising a known bug from a training run's float64 figures (mean error, mean loss)."""

RIGHT_ANYWAY = Tolerance(rtol=1e-3, atol=1e-4)
"""A wrong variant that happens to give the right numbers on this input does not name the bug."""

ROUGHLY_NORMALISED = Tolerance(rtol=1e-5, atol=1e-3)
"""A property check behind a hint (rows that sum to about 1), not a verdict."""

SAME_RATIO = Tolerance(rtol=1e-3, atol=0.0)
"""Recognising a result off by a whole factor (summed instead of averaged, negated, divided by a wrong count)."""

TRAINING_FLOAT64 = Tolerance(rtol=1e-6, atol=1e-9)
"""A float64 training run replayed step by step: figures and final parameters."""

TRAINING_FLOAT32 = Tolerance(rtol=1e-4, atol=1e-5)
"""A float32 training run of several steps: rounding accumulates over the steps."""

FRACTION = Tolerance(rtol=1e-6, atol=1e-7)
"""A fraction of a batch (the share of wrong predictions) returned as a Python float."""


def magnitude(t: torch.Tensor) -> float:
    """The inputs' magnitude that a preset scales with: the largest |entry| (1 for an empty tensor)."""
    return t.abs().max().item() if t.numel() else 1.0


def tol(dtype: torch.dtype, scale: float = 1.0) -> tuple:
    """(rtol, atol) of ``ROUNDING`` (kept for callers that unpack a pair)."""
    return tuple(ROUNDING.at(dtype, scale))
