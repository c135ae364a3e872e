"""Hidden suite for exercise 4: a 2-d convolution's forward pass.

Every check compares the student's conv2d with the reference (torch's own, in float64); when the
numbers are wrong, the hint names the mistake whose result they are (the catalogue below).
"""

import pytest
import torch

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

# The catalogue: the mistakes students make, each named by its hint when a result is that mistake's.
FLIPPED = Misconception(
    "kernel flipped",
    (
        "Don't flip the kernel: deep-learning convolution is a cross-correlation, "
        "out[n, o, i, j] = sum of x[n, c, i * stride + a, j * stride + b] * weight[o, c, a, b] "
        "(weight[o, c, kH - 1 - a, kW - 1 - b] is the convolution of signal processing)."
    ),
)
STRIDE = Misconception(
    "stride ignored",
    (
        "Step the kernel by stride: output position (i, j) starts at input row i * stride and column j * stride, "
        "and H_out = (H + 2 * padding - kH) // stride + 1 (W_out likewise)."
    ),
)
PADDING = Misconception(
    "padding ignored",
    (
        "Pad the input with padding zeros on both sides of its height and width before sliding the kernel "
        "(torch.nn.functional.pad(x, (pw, pw, ph, ph))): H_out = (H + 2 * padding - kH) // stride + 1."
    ),
)
BIAS = Misconception(
    "bias",
    (
        "Add the bias once per output channel, after the sum over channels and kernel positions: "
        "out + bias.view(1, -1, 1, 1), when bias is given."
    ),
)
LAYOUT = Misconception(
    "layout",
    (
        "Return the output channels first, in torch's layout: shape (N, C_out, H_out, W_out), "
        "not channels last (N, H_out, W_out, C_out) nor with the batch and channel dimensions swapped."
    ),
)
SHAPE = (
    "The output has shape (N, C_out, H_out, W_out), with H_out = (H + 2 * padding - kH) // stride + 1 "
    "and W_out = (W + 2 * padding - kW) // stride + 1."
)
# the student edition's hint when no catalogued mistake gives the numbers (it stores no reference to tell why)
FORMULA = (
    "out[n, o, i, j] = bias[o] + the sum over c, a, b of x[n, c, i * stride + a, j * stride + b] * "
    "weight[o, c, a, b], of shape (N, C_out, H_out, W_out) with H_out = (H + 2 * padding - kH) // stride + 1."
)


def _torch_conv(x, w, b, stride, padding):
    return torch.nn.functional.conv2d(x, w, b, stride=stride, padding=padding)


def _variants(x, w, b, stride, padding):
    """What each catalogued mistake computes on these inputs (float64)."""
    x, w = x.double(), w.double()
    b = None if b is None else b.double()
    right = lambda: _torch_conv(x, w, b, stride, padding)
    yield FLIPPED.gives(lambda: _torch_conv(x, w.flip(-2, -1), b, stride, padding))
    strided, padded = stride not in (1, (1, 1)), padding not in (0, (0, 0))
    if strided:
        yield STRIDE.gives(lambda: _torch_conv(x, w, b, 1, padding))
    if padded:
        yield PADDING.gives(lambda: _torch_conv(x, w, b, stride, 0))
    if strided and padded:  # stride and padding both ignored: each hint names half the mistake
        yield STRIDE.gives(lambda: _torch_conv(x, w, b, 1, 0))
    if b is not None:
        yield BIAS.gives(lambda: _torch_conv(x, w, None, stride, padding))
        positions, channels = w.shape[2] * w.shape[3], w.shape[1]
        yield BIAS.gives(lambda: right() + (positions - 1) * b.view(1, -1, 1, 1))
        yield BIAS.gives(lambda: right() + (channels - 1) * b.view(1, -1, 1, 1))
        yield BIAS.gives(lambda: right() + (channels * positions - 1) * b.view(1, -1, 1, 1))
    yield LAYOUT.gives(lambda: right().permute(0, 2, 3, 1))
    yield LAYOUT.gives(lambda: right().transpose(0, 1))


def _describe(x, w, b, stride, padding, how):
    bias = f"bias: {how}" if b is not None else "bias=None"
    return f"{describe('x', x, how)}, {describe('weight', w, how)}, {bias}, stride={stride}, padding={padding}"


def _what(bias, stride, padding):
    return f"conv2d(x, weight, {'bias' if bias is not None else 'None'}, stride={stride}, padding={padding})"


def _diagnose(x, w, b, stride, padding, expected):
    def diagnose(got):
        hint = name_bug(got, expected, _variants(x, w, b, stride, padding), ROUNDING.at(x.dtype))
        return hint or (SHAPE if got.shape != expected.shape else None)

    return diagnose


def _scale(x, w, *_rest):
    """The magnitude the rounding grows with: three per input channel."""
    return w.shape[1] * 3


def _inputs(rng, x_shape, w_shape, dtype=torch.float32, stride=1, padding=0, bias=True):
    """The arguments of one call, drawn from rng in this order (x, weight, bias), and how they were made."""
    x = randn(rng, x_shape, dtype)
    w = randn(rng, w_shape, dtype)
    b = randn(rng, (w_shape[0],), dtype) if bias else None
    return [x, w, b, stride, padding], "normal values"


def _compare(student, args, how):
    x, w, b, stride, padding = args
    expected = reference.conv2d(*args)
    what = _what(b, stride, padding)
    got = student.call(student.ref("conv2d"), *args, _what=what)
    compare(
        got,
        expected,
        diagnose=_diagnose(*args, expected),
        what=what,
        inputs=_describe(*args, how),
        dtype=x.dtype,
        tolerance=ROUNDING,
        scale=_scale(*args),
    )


def _check(student, rng, x_shape, w_shape, **options):
    _compare(student, *_inputs(rng, x_shape, w_shape, **options))


# small enough for the report of a visible test to show the whole call (64 entries at most)
SHAPES = {"3x3": ((1, 1, 5, 5), (2, 1, 3, 3)), "2x3": ((1, 2, 3, 4), (2, 2, 2, 3))}

# The visible test's inputs, declared once: the test makes them from here, and so does the student
# edition (grade release stores them, the reference's result and the catalogue's, as data).
MATCHES_REFERENCE = VisibleCall(
    test="test_matches_reference",
    fn="conv2d",
    what=_what(True, 1, 0),
    inputs=lambda rng, x_shape, w_shape, dtype, device: _inputs(rng, x_shape, w_shape, dtype),
    expected=reference.conv2d,
    describe=_describe,
    scale=_scale,
    variants=_variants,
    hint=FORMULA,
    every_device=False,
    params=tuple(
        (f"{k}-{d.id}", {"x_shape": x_shape, "w_shape": w_shape, "dtype": d.values[0]})
        for k, (x_shape, w_shape) in SHAPES.items()
        for d in DTYPES
    ),
)  # pytest's order of the cases


@pytest.mark.points(3)
@pytest.mark.visible
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape, w_shape", SHAPES.values(), ids=SHAPES.keys())
def test_matches_reference(student, rng, x_shape, w_shape, dtype):
    """conv2d with a bias, stride 1 and no padding matches the reference (a cross-correlation)"""
    _compare(student, *MATCHES_REFERENCE.make(rng, x_shape=x_shape, w_shape=w_shape, dtype=dtype))


@pytest.mark.points(1.5)
@pytest.mark.parametrize("stride", [2, 3])
def test_stride(student, rng, stride):
    """with a stride the kernel moves stride pixels at a time: a smaller output"""
    _check(student, rng, (2, 3, 9, 10), (4, 3, 3, 3), stride=stride)


@pytest.mark.points(1.5)
@pytest.mark.parametrize("padding", [1, 2])
def test_padding(student, rng, padding):
    """with padding the input is framed by zeros first: a larger output"""
    _check(student, rng, (2, 3, 6, 5), (4, 3, 3, 3), padding=padding)


@pytest.mark.points(1)
@pytest.mark.parametrize("stride, padding", [(2, 1), ((2, 1), (0, 2))], ids=["ints", "pairs"])
def test_stride_and_padding(student, rng, stride, padding):
    """stride and padding together, each an int or a pair (height, width)"""
    _check(student, rng, (2, 2, 7, 6), (3, 2, 3, 2), stride=stride, padding=padding)


@pytest.mark.points(1)
def test_without_bias(student, rng):
    """bias=None: no bias is added"""
    _check(student, rng, (2, 3, 6, 6), (4, 3, 3, 3), bias=False)


@pytest.mark.points(1)
def test_one_image_one_channel(student, rng):
    """a batch of one image with one channel, two output channels: no dimension of size 1 is lost"""
    _check(student, rng, (1, 1, 5, 4), (2, 1, 3, 3), stride=1, padding=1)


@pytest.mark.points(1)
def test_gradients(student, rng):
    """the gradients with respect to x, weight and bias match the reference's (autograd through conv2d)"""
    stride, padding = 2, 1
    x, w, b = (
        randn(rng, (2, 3, 7, 6), torch.float64),
        randn(rng, (4, 3, 3, 3), torch.float64),
        randn(rng, (4,), torch.float64),
    )
    what = _what(b, stride, padding)
    leaves = [t.clone().requires_grad_() for t in (x, w, b)]
    out = reference.conv2d(leaves[0], leaves[1], leaves[2], stride, padding)
    grad_output = randn(rng, tuple(out.shape), torch.float64)
    expected = torch.autograd.grad(out, leaves, grad_output)
    inputs = _describe(x, w, b, stride, padding, "normal values") + "; grad_output random"
    # the forward first: a wrong output shape would make the backward fail for a reason it does not say
    got = student.call(student.ref("conv2d"), x, w, b, stride, padding, _what=what)
    compare(
        got,
        out.detach(),
        diagnose=_diagnose(x, w, b, stride, padding, out.detach()),
        what=what,
        inputs=inputs,
        dtype=torch.float64,
        tolerance=ROUNDING,
        scale=9,
    )
    _, grads, _ = student.vjp(
        student.ref("conv2d"), [x, w, b, stride, padding], grad_output, wrt=(0, 1, 2), _what=f"backward through {what}"
    )
    for name, g, e in zip(("x", "weight", "bias"), grads or [None] * 3, expected):
        compare(
            g,
            e,
            diagnose=lambda g: None,
            what=f"the gradient with respect to {name}",
            inputs=inputs,
            dtype=torch.float64,
            tolerance=ROUNDING,
            scale=9,
        )
