"""Hidden suite for exercise 1: layer normalisation.

Every check compares the student's layer_norm with the reference; when the numbers are
wrong, the hint names the mistake whose result they are (the catalogue below).
"""

import pytest
import torch

from grader.suites.common import (
    DTYPES,
    ROUNDING,
    SAME_NUMBERS,
    Misconception,
    VisibleCall,
    compare,
    course_reference,
    describe,
    name_bug,
    randn,
)

reference = course_reference(__file__)
WHAT = "layer_norm(x, normalized_shape, weight, bias)"

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


def _check(student, args, how, tolerance=ROUNDING):
    x = args[0]
    expected = reference.layer_norm(*args)
    got = student.call(student.ref("layer_norm"), *args, _what=WHAT)
    diagnose = lambda g: name_bug(g, expected, _variants(*args), tolerance.at(x.dtype))
    compare(
        got, expected, diagnose=diagnose, what=WHAT, inputs=_describe(*args, how), dtype=x.dtype, tolerance=tolerance
    )


SHAPES = {"2d": ((8, 16), (16,)), "3d": ((4, 5, 6), (6,))}

# The visible test's inputs, declared once: the test makes them from here, and so does the student
# edition (grade release stores them, the reference's result and the catalogue's, as data).
MATCHES_REFERENCE = VisibleCall(
    test="test_matches_reference",
    fn="layer_norm",
    what=WHAT,
    inputs=lambda rng, x_shape, shape, dtype, device: _inputs(rng, randn(rng, x_shape, dtype), shape, "normal values"),
    expected=reference.layer_norm,
    describe=_describe,
    variants=_variants,
    every_device=False,
    params=tuple(
        (f"{k}-{d.id}", {"x_shape": x_shape, "shape": shape, "dtype": d.values[0]})
        for k, (x_shape, shape) in SHAPES.items()
        for d in DTYPES
    ),
)  # pytest's order of the cases


@pytest.mark.points(4)
@pytest.mark.visible
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, shape", SHAPES.values(), ids=SHAPES.keys())
def test_matches_reference(student, rng, x_shape, shape, dtype):
    """layer_norm over the last dimension matches the reference, with weight and bias"""
    _check(student, *MATCHES_REFERENCE.make(rng, x_shape=x_shape, shape=shape, dtype=dtype))


@pytest.mark.points(2)
@pytest.mark.parametrize("dtype", DTYPES)
def test_small_variance(student, rng, dtype):
    """rows whose variance is about eps: where eps sits matters"""
    x = randn(rng, (6, 10), dtype, scale=3e-3) + 1.0
    # x - mean loses float32's digits to the offset 1: a correct answer is right to 1e-4
    _check(student, *_inputs(rng, x, (10,), "1 + normal values × 0.003"), tolerance=SAME_NUMBERS)


@pytest.mark.points(2)
@pytest.mark.parametrize("dtype", DTYPES)
def test_two_normalised_dims(student, rng, dtype):
    """normalized_shape of two dimensions: both are normalised together"""
    _check(student, *_inputs(rng, randn(rng, (3, 4, 5), dtype), (4, 5), "normal values"))


@pytest.mark.points(2)
def test_gradients(student, rng):
    """the gradients with respect to x, weight and bias match the reference's (autograd through layer_norm)"""
    x, shape = randn(rng, (4, 7), torch.float64), (7,)
    weight, bias = randn(rng, shape, torch.float64) + 1.0, randn(rng, shape, torch.float64)
    grad_output = randn(rng, (4, 7), torch.float64)
    got, grads, _ = student.vjp(
        student.ref("layer_norm"),
        [x, list(shape), weight, bias],
        grad_output,
        wrt=(0, 2, 3),
        _what=f"backward through {WHAT}",
    )
    leaves = [t.clone().requires_grad_() for t in (x, weight, bias)]
    out = reference.layer_norm(leaves[0], shape, leaves[1], leaves[2])
    expected = torch.autograd.grad(out, leaves, grad_output)
    diagnose = lambda g: name_bug(g, out.detach(), _variants(x, shape, weight, bias, 1e-5), ROUNDING.at(x.dtype))
    compare(
        got,
        out.detach(),
        diagnose=diagnose,
        what=WHAT,
        inputs=describe("x", x, "normal values"),
        dtype=torch.float64,
        tolerance=ROUNDING,
    )
    for name, g, e in zip(("x", "weight", "bias"), grads, expected):
        compare(
            g,
            e,
            diagnose=lambda g: None,
            what=f"the gradient with respect to {name}",
            inputs=describe("x", x, "normal values"),
            dtype=torch.float64,
            tolerance=ROUNDING,
        )
