"""Hidden suite for exercise 1: layer normalisation.

Every check compares the student's layer_norm with the reference; when the numbers are
wrong, the hint names the mistake whose result they are (the catalogue below).  The standard
checks come from the description LAYER_NORM (grader.verdicts.declared); the test of a
normalized_shape of two dimensions is written by hand beside them, with the same helpers.
"""

import pytest
import torch

from grader.suites.common import (
    DTYPES,
    SAME_NUMBERS,
    Case,
    Checks,
    Misconception,
    Property,
    course_reference,
    declare,
    describe,
    randn,
)

reference = course_reference(__file__)

# The catalogue: the mistakes students make, each named by its hint when a result is that mistake's.
UNBIASED = Misconception(
    "unbiased variance",
    (
        "The variance must be the biased one, divided by N: x.var(unbiased=False) or ((x - mean)**2).mean(...). "
        "x.var() divides by N - 1."
    ),
)
EPS_OUTSIDE = Misconception(
    "eps outside the square root",
    ("eps goes inside the square root: (x - mean) / sqrt(var + eps), not / (sqrt(var) + eps) or / (std + eps)."),
)
WRONG_DIMS = Misconception(
    "normalised over the wrong dimensions",
    (
        "Normalise over the last len(normalized_shape) dimensions, all of them at once: "
        "dims = tuple(range(-len(normalized_shape), 0)); x.mean(dim=dims, keepdim=True)."
    ),
)
NO_AFFINE = Misconception(
    "affine parameters ignored",
    ("Apply the affine parameters after normalising: y = x_hat * weight + bias (when they are given)."),
)
BIAS_FIRST = Misconception(
    "affine parameters in the wrong order",
    ("Scale first, then shift: y = x_hat * weight + bias, not (x_hat + bias) * weight."),
)


def _normalise(x, dims, correction=0, eps=1e-5, outside=False):
    var, mean = torch.var_mean(x, dim=dims, keepdim=True, correction=correction)
    return (x - mean) / (var.sqrt() + eps) if outside else (x - mean) / torch.sqrt(var + eps)


def _variants(x, shape, weight, bias, eps):
    """What each catalogued mistake computes on these inputs (float64)."""
    x, w, b = x.double(), weight.double(), bias.double()
    dims = tuple(range(-len(shape), 0))
    yield UNBIASED.gives(lambda: _normalise(x, dims, correction=1, eps=eps) * w + b)
    yield EPS_OUTSIDE.gives(lambda: _normalise(x, dims, eps=eps, outside=True) * w + b)
    yield WRONG_DIMS.gives(lambda: _normalise(x, (-1,), eps=eps) * w + b)
    yield WRONG_DIMS.gives(lambda: _normalise(x, tuple(range(x.dim())), eps=eps) * w + b)
    yield WRONG_DIMS.gives(lambda: _normalise(x, (0,), eps=eps) * w + b)
    yield NO_AFFINE.gives(lambda: _normalise(x, dims, eps=eps))
    yield BIAS_FIRST.gives(lambda: (_normalise(x, dims, eps=eps) + b) * w)


def _inputs(rng, x, shape, how, eps=1e-5):
    """The arguments of one call, weight and bias drawn after x, and how x was made."""
    weight = randn(rng, shape, x.dtype) + 1.0
    bias = randn(rng, shape, x.dtype)
    return [x, list(shape), weight, bias, eps], how


def _describe(x, shape, weight, bias, eps, how):
    return f"{describe('x', x, how)}, normalized_shape={list(shape)}, weight and bias random, eps={eps:g}"


def _centred(y, x, shape, weight, bias, eps):
    """Whether the result, the affine parameters undone, has mean 0 over the normalised dimensions
    (a result with nan or inf says nothing about it)."""
    means = ((y - bias.double()) / weight.double()).mean(dim=tuple(range(-len(shape), 0)))
    return not bool(torch.isfinite(means).all()) or bool(means.abs().max() < 1e-2)


CENTRED = Property(
    "centred",
    "the result, weight and bias undone, has mean 0 over the normalised dimensions",
    _centred,
    "Subtract the mean over the normalised dimensions before dividing: x - x.mean(dim=dims, keepdim=True).",
)

# The standard checks, described: the tests below come from here (declare), and so does the
# visible test's data, MATCHES_REFERENCE, which grade release stores in the student edition.
LAYER_NORM = Checks(
    fn="layer_norm",
    reference=reference.layer_norm,
    what="layer_norm(x, normalized_shape, weight, bias)",
    inputs=lambda rng, shape, dtype, device: _inputs(rng, randn(rng, shape[0], dtype), shape[1], "normal values"),
    shapes={"2d": ((8, 16), (16,)), "3d": ((4, 5, 6), (6,))},  # (x's shape, normalized_shape)
    describe=_describe,
    mistakes=_variants,
    properties=(CENTRED,),
    cases=(
        Case(
            "small_variance",
            "rows whose variance is about eps: where eps sits matters",
            # x - mean loses float32's digits to the offset 1: a correct answer is right to 1e-4
            lambda rng, dtype, device: _inputs(
                rng, randn(rng, (6, 10), dtype, scale=3e-3) + 1.0, (10,), "1 + normal values × 0.003"
            ),
            tolerance=SAME_NUMBERS,
        ),
    ),
    gradients=True,
    gradient_shape=((4, 7), (7,)),
    points={"matches_reference": 4, "small_variance": 2, "gradcheck": 2},
    descriptions={
        "matches_reference": "layer_norm over the last dimension matches the reference, with weight and bias",
        "gradcheck": "torch.autograd.gradcheck through layer_norm in float64, with respect to x, weight and bias",
    },
)
declare(globals(), LAYER_NORM)


# A test of the suite's own, with the same helpers: the declaration's comparison on inputs it does
# not make (a normalized_shape of two dimensions, on one shape of x).
@pytest.mark.points(2)
@pytest.mark.parametrize("dtype", DTYPES)
def test_two_normalised_dims(student, rng, dtype):
    """normalized_shape of two dimensions: both are normalised together"""
    LAYER_NORM.check(student, *_inputs(rng, randn(rng, (3, 4, 5), dtype), (4, 5), "normal values"))
