"""Hidden suite for exercise 1: softmax over the last dimension."""
import pytest
import torch

import reference
from grader.checks import assert_close, assert_unchanged, describe, tol
from grader.suites.common import DEVICES, DTYPES, gradcheck, randn

SHAPES = {"1d": (7,), "2d": (13, 10), "batch64": (64, 10), "3d": (3, 4, 6), "single": (1, 1)}
WHAT = "softmax(x)"


def _check(student, x, how, device):
    got = student.call(student.ref("softmax"), x, _what=WHAT)
    rtol, atol = tol(x.dtype, x.abs().max().item() if x.numel() else 1.0)
    assert_close(got, reference.softmax(x.double()), what=WHAT, inputs=describe("x", x, how),
                 dtype=x.dtype, device=device, rtol=rtol, atol=atol)


@pytest.mark.weight(1)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_matches_reference(student, rng, shape, dtype, device):
    """softmax(x) matches the reference on random inputs of several shapes"""
    _check(student, randn(rng, shape, dtype, device, scale=3.0), "normal values × 3", device)


@pytest.mark.weight(2)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_large_logits(student, rng, dtype, device):
    """softmax stays finite and correct for logits around ±1000"""
    x = randn(rng, (6, 5), dtype, device, scale=1000.0)
    _check(student, x, "normal values × 1000", device)


@pytest.mark.weight(2)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_far_apart_logits(student, dtype, device):
    """softmax of rows like [0, -1000] and [1000, 0, -1000]"""
    x = torch.tensor([[0.0, -1000.0, -1000.0], [1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]],
                     dtype=dtype, device=device)
    _check(student, x, "rows [0, -1000, -1000], [1000, 0, -1000], [-1000, -1000, -1000]", device)


@pytest.mark.weight(1)
def test_input_not_modified(student, rng):
    """softmax gives the right result and leaves its input unchanged"""
    x = randn(rng, (5, 8), scale=3.0)
    got, args = student.call(student.ref("softmax"), x, _what=WHAT, _return_args=True)
    assert_close(got, reference.softmax(x.double()), what=WHAT, inputs=describe("x", x, "normal values × 3"),
                 dtype=x.dtype)
    assert_unchanged(args[0], x, what=WHAT)


@pytest.mark.weight(2)
def test_gradcheck(student, rng):
    """torch.autograd.gradcheck through softmax in float64"""
    gradcheck(student, student.ref("softmax"), [randn(rng, (3, 5), torch.float64)], WHAT, names=["x"])
