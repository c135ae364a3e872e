"""Hidden suite for exercise 2: the forward pass of a 2-d convolution layer.

Every check compares the student's conv2d with the reference (torch's, in float64); when the
numbers are wrong, the hint names the mistake whose result they are (the catalogue below).
"""
import pytest
import torch
import torch.nn.functional as F

from grader.suites.common import (
    DTYPES,
    ROUNDING,
    Misconception,
    VisibleCall,
    compare,
    course_reference,
    describe,
    name_bug,
    randn,
)

reference = course_reference(__file__)
WHAT = "conv2d(x, weight, bias, stride, padding)"

# The catalogue: the mistakes students make, each named by its hint when a result is that mistake's.
FLIPPED = Misconception("convolution, not cross-correlation", (
    "Don't flip the kernel: deep-learning libraries compute a cross-correlation, "
    "out[n, o, i, j] = sum of x[n, c, i*stride + p, j*stride + q] * weight[o, c, p, q]."))
NO_STRIDE = Misconception("stride ignored", (
    "Step the kernel stride pixels at a time: the output has (H + 2*padding - kH) // stride + 1 rows; "
    "take every stride-th position, x[..., p:p + stride*(H_out - 1) + 1:stride, ...]."))
NO_PADDING = Misconception("padding ignored", (
    "Pad every side of each image with padding zeros before sliding the kernel: "
    "F.pad(x, (padding, padding, padding, padding))."))
NO_BIAS = Misconception("bias left out", (
    "Add the bias, one number per output channel: out + bias.view(1, -1, 1, 1)."))


def _variants(x, weight, bias, stride, padding):
    """What each catalogued mistake computes on these inputs (float64)."""
    x, w = x.double(), weight.double()
    b = None if bias is None else bias.double()
    yield FLIPPED.gives(lambda: F.conv2d(x, w.flip(-1, -2), b, stride=stride, padding=padding))
    yield NO_STRIDE.gives(lambda: F.conv2d(x, w, b, stride=1, padding=padding))
    yield NO_PADDING.gives(lambda: F.conv2d(x, w, b, stride=stride, padding=0))
    if b is not None:
        yield NO_BIAS.gives(lambda: F.conv2d(x, w, None, stride=stride, padding=padding))


def _inputs(rng, dtype, *, stride=1, padding=0, with_bias=True, size=(2, 3, 7, 8), c_out=4, device="cpu"):
    """The arguments of one call (drawn from rng in this order) and how x was made."""
    x = randn(rng, size, dtype)
    weight = randn(rng, (c_out, size[1], 3, 3), dtype)
    bias = randn(rng, (c_out,), dtype) if with_bias else None
    return [x, weight, bias, stride, padding], "normal values"


def _describe(x, weight, bias, stride, padding, how):
    return (f"{describe('x', x, how)}, weight {tuple(weight.shape)}, "
            f"{'a bias' if bias is not None else 'bias=None'}, stride={stride}, padding={padding}")


def _terms(x, weight, *_rest):
    """Each output is a sum of C_in * kH * kW products: its rounding grows with them."""
    return weight.shape[1] * weight.shape[2] * weight.shape[3]


def _check(student, rng, dtype, **options):
    args, how = _inputs(rng, dtype, **options)
    expected = reference.conv2d(*args)
    got = student.call(student.ref("conv2d"), *args, _what=WHAT)
    terms = _terms(*args)
    diagnose = lambda g: name_bug(g, expected, _variants(*args), ROUNDING.at(dtype, terms))
    compare(got, expected, diagnose=diagnose, what=WHAT, inputs=_describe(*args, how), dtype=dtype,
            tolerance=ROUNDING, scale=terms)


# The visible test's inputs, declared once: the test makes them from here, and so does the student
# edition (grade release stores them, the reference's result and the catalogue's, as data).
MATCHES_REFERENCE = VisibleCall(test="test_matches_reference", fn="conv2d", what=WHAT, inputs=_inputs,
                                expected=reference.conv2d, describe=_describe, scale=_terms, variants=_variants,
                                every_device=False)


@pytest.mark.points(4)
@pytest.mark.visible
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_reference(student, rng, dtype):
    """conv2d with a bias, stride 1 and no padding matches the reference"""
    _check(student, rng, dtype)


@pytest.mark.points(2)
@pytest.mark.parametrize("dtype", DTYPES)
def test_stride(student, rng, dtype):
    """stride 2: the kernel steps two pixels at a time"""
    _check(student, rng, dtype, stride=2)


@pytest.mark.points(2)
@pytest.mark.parametrize("dtype", DTYPES)
def test_padding(student, rng, dtype):
    """padding 1 (and stride 2): zeros around each image, then the kernel slides"""
    _check(student, rng, dtype, stride=2, padding=1)


@pytest.mark.points(1)
def test_no_bias(student, rng):
    """bias=None: nothing is added"""
    _check(student, rng, torch.float64, with_bias=False)


@pytest.mark.points(1)
def test_one_image_one_channel(student, rng):
    """a batch of one single-channel image into one output channel"""
    _check(student, rng, torch.float64, size=(1, 1, 5, 5), c_out=1)
