"""Hidden suite for exercise 4: a 2-d convolution's forward pass.

Every check compares the student's conv2d with the reference (torch's own, in float64); when the
numbers are wrong, the hint names the mistake whose result they are (the catalogue below).  The
checks come from the description CONV2D (grader.verdicts.declared): each call passes stride and
padding by keyword, conv2d(x, weight, bias, stride=2, padding=1), as the reference, the catalogue,
the input line and the student edition's visible test take them.
"""

import torch

from grader.suites.common import Case, Checks, Misconception, course_reference, declare, describe, randn

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
# the hint when no catalogued mistake gives the numbers (the student edition stores no reference to tell why)
FORMULA = (
    "out[n, o, i, j] = bias[o] + the sum over c, a, b of x[n, c, i * stride + a, j * stride + b] * "
    "weight[o, c, a, b], of shape (N, C_out, H_out, W_out) with H_out = (H + 2 * padding - kH) // stride + 1."
)


def _torch_conv(x, w, b, stride, padding):
    return torch.nn.functional.conv2d(x, w, b, stride=stride, padding=padding)


def _variants(x, w, b, stride=1, padding=0):
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


def _describe(x, w, b, how, stride=1, padding=0):
    bias = f"bias: {how}" if b is not None else "bias=None"
    return f"{describe('x', x, how)}, {describe('weight', w, how)}, {bias}, stride={stride}, padding={padding}"


def _scale(x, w, *_rest, **_keywords):
    """The magnitude the rounding grows with: three per input channel."""
    return w.shape[1] * 3


def _inputs(rng, x_shape, w_shape, dtype, device="cpu", bias=True, stride=1, padding=0):
    """The call's arguments, drawn from rng in this order (x, weight, bias), its keyword arguments
    (stride and padding), and how they were made."""
    x = randn(rng, x_shape, dtype, device)
    w = randn(rng, w_shape, dtype, device)
    b = randn(rng, (w_shape[0],), dtype, device) if bias else None
    return [x, w, b], {"stride": stride, "padding": padding}, "normal values"


def _shaped(rng, shape, dtype, device):
    """The declaration's inputs: ``shape`` is (x's shape, weight's shape[, {bias, stride or padding: value}])."""
    x_shape, w_shape, *options = shape
    return _inputs(rng, x_shape, w_shape, dtype, device, **(options[0] if options else {}))


def _case(name, description, x_shape, w_shape, **options):
    """A Case: conv2d on inputs of these shapes, with these options (bias, stride, padding)."""
    return Case(name, description, lambda rng, dtype, device: _inputs(rng, x_shape, w_shape, dtype, device, **options))


# The standard checks, described: the tests come from here (declare), and so does the visible
# test's data, MATCHES_REFERENCE, which grade release stores in the student edition (the keyword
# arguments with it).  The shapes of matches_reference are small enough for the report of a visible
# test to show the whole call (64 entries at most).
CONV2D = Checks(
    fn="conv2d",
    reference=reference.conv2d,
    inputs=_shaped,
    shapes={"3x3": ((1, 1, 5, 5), (2, 1, 3, 3)), "2x3": ((1, 2, 3, 4), (2, 2, 2, 3))},
    describe=_describe,
    scale=_scale,
    mistakes=_variants,
    hint=FORMULA,
    cases=(
        _case(
            "stride",
            "with a stride the kernel moves stride pixels at a time: a smaller output",
            (2, 3, 9, 10),
            (4, 3, 3, 3),
            stride=2,
        ),
        _case(
            "padding",
            "with padding the input is framed by zeros first: a larger output",
            (2, 3, 6, 5),
            (4, 3, 3, 3),
            padding=2,
        ),
        _case(
            "stride_and_padding",
            "stride and padding together, each an int",
            (2, 2, 7, 6),
            (3, 2, 3, 2),
            stride=2,
            padding=1,
        ),
        _case(
            "stride_and_padding_pairs",
            "stride and padding together, each a pair (height, width)",
            (2, 2, 7, 6),
            (3, 2, 3, 2),
            stride=(2, 1),
            padding=(0, 2),
        ),
        _case("without_bias", "bias=None: no bias is added", (2, 3, 6, 6), (4, 3, 3, 3), bias=False),
        _case(
            "one_image_one_channel",
            "a batch of one image with one channel, two output channels: no dimension of size 1 is lost",
            (1, 1, 5, 4),
            (2, 1, 3, 3),
            padding=1,
        ),
    ),
    gradients=True,
    gradient_shape=((1, 2, 5, 4), (3, 2, 3, 2), {"stride": 2, "padding": 1}),
    points={
        "matches_reference": 3,
        "stride": 1.5,
        "padding": 1.5,
        "stride_and_padding": 0.5,
        "stride_and_padding_pairs": 0.5,
        "without_bias": 1,
        "one_image_one_channel": 1,
        "gradcheck": 1,
    },
    descriptions={
        "matches_reference": "conv2d with a bias, stride 1 and no padding matches the reference (a cross-correlation)",
        "gradcheck": (
            "torch.autograd.gradcheck through conv2d in float64, with respect to x, weight and bias "
            "(stride 2, padding 1)"
        ),
    },
)
declare(globals(), CONV2D)
