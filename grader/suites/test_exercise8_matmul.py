"""Hidden suite for exercise 8: matrix multiplication as a torch.autograd.Function.

The forward is compared with X @ Y computed here in float64; the backward is
run in the worker through ``MatMul.apply`` with a random incoming gradient G
and each input's gradient is compared with the reference (G @ Y^T for X,
X^T @ G for Y) on its own, so a wrong transpose, swapped gradients or an
ignored incoming gradient are named precisely: only when a gradient is wrong,
the wrong formulas students write are computed here on the same input and the
one that gives the student's numbers names the mistake (``_buggy_gradients``; a failed
gradcheck is explained the same way).  Non-square shapes are used throughout,
because a square case hides a missing transpose.
"""

import re

import pytest
import torch

from grader.suites.common import (
    DTYPES,
    FINITE_DIFFERENCES,
    FORWARD_FIRST,
    ROUNDING,
    ErrorHint,
    Failure,
    Misconception,
    VisibleGradcheck,
    VisibleMatMul,
    assert_close,
    assert_unchanged,
    check,
    compare,
    describe,
    expect_tensor,
    gradcheck,
    magnitude,
    name_bug,
    naming_errors,
    randn,
    shape_str,
)
from grader.transport.student import StudentError

WHAT = "MatMul.apply(X, Y)"
BACKWARD = f"backward through {WHAT}"
NAMES = ("X", "Y")

FUNCTION_HINT = (
    "Write `class MatMul(torch.autograd.Function):` with `@staticmethod def forward(ctx, X, Y)` and "
    "`@staticmethod def backward(ctx, grad)`, and use it as `MatMul.apply(X, Y)`."
)
FORWARD_HINT = "forward must return the matrix product `X @ Y` (shape (n, k) @ (k, m) = (n, m)), not X * Y."
TRANSPOSE_HINT = (
    "Check the transposes: dL/dX = grad @ Y.T has X's shape (n, m) @ (m, k) = (n, k), and "
    "dL/dY = X.T @ grad has Y's shape (k, n) @ (n, m) = (k, m)."
)
COUNT_HINT = (
    "backward must return one gradient per input of forward (ctx does not count), in order: "
    "`return grad @ Y.T, X.T @ grad`."
)
SAVE_HINT = (
    "Save the inputs in forward with `ctx.save_for_backward(X, Y)` and read them back in backward with "
    "`X, Y = ctx.saved_tensors`."
)
NONE_HINT = (
    "backward returned None for an input that needs a gradient: return a tensor for every input "
    "(None is only fine when ctx.needs_input_grad[i] is False)."
)
GRAD_HINT = "dL/dX = grad @ Y.T and dL/dY = X.T @ grad, where grad is backward's argument (dL/dZ)."

# the visible test's inputs, declared once: the test makes them from here, and so does the student
# edition (grade release stores them with the reference's result and gradients, as data)
SMALL_EXAMPLE = VisibleMatMul(
    test="test_small_example",
    what=WHAT,
    backward_what=BACKWARD,
    inputs=lambda rng: (
        (
            torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]),
            torch.tensor([[1.0, 0.0, 2.0, 0.0], [0.0, 1.0, 0.0, -1.0], [1.0, 1.0, 0.0, 0.0]]),
            torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 2.0, 1.0, 0.0]]),
        ),
        ("[[1, 2, 3], [4, 5, 6]]", "[[1, 0, 2, 0], [0, 1, 0, -1], [1, 1, 0, 0]]", "[[1, 0, 0, 1], [0, 2, 1, 0]]"),
    ),
    expected=lambda X, Y, G: (
        X.double() @ Y.double(),
        [_reference_gradient(i, X.double(), Y.double(), G.double()) for i in (0, 1)],
    ),
    scales=lambda X, Y, G: tuple(
        magnitude(_reference_gradient(i, X.double().abs(), Y.double().abs(), G.double().abs())) for i in (0, 1)
    ),
    describe=lambda X, Y, G, how: _inputs_text(X, Y, G, how=how),
    hint=FORWARD_HINT,
    grad_hint=GRAD_HINT,
)

# The likely bugs in backward, recognised from the gradients a submission returns.
IGNORED = Misconception(
    "ignored",
    (
        "The incoming gradient is ignored (the result is what grad = all ones would give): backward must "
        "multiply by `grad`, dL/dX = grad @ Y.T and dL/dY = X.T @ grad."
    ),
)
SWAPPED = Misconception(
    "swapped",
    (
        "The two gradients are swapped (the one returned for X is Y's gradient, and the other way round): "
        "return them in the order of forward's inputs, `return dX, dY`."
    ),
)
SIGN = Misconception("sign", "The gradient has the wrong sign: dL/dX = grad @ Y.T and dL/dY = X.T @ grad, no minus.")
TRANSPOSED = (
    Misconception(
        "transposed",
        (
            "The gradient for X is transposed: Y @ grad.T is (grad @ Y.T).T. Return dL/dX = grad @ Y.T, "
            "which has X's shape (n, k)."
        ),
    ),
    Misconception(
        "transposed",
        (
            "The gradient for Y is transposed: grad.T @ X is (X.T @ grad).T. Return dL/dY = X.T @ grad, "
            "which has Y's shape (k, m)."
        ),
    ),
)
ELEMENTWISE = Misconception(
    "elementwise",
    (
        "`*` multiplies entry by entry; the matrix product is `X @ Y`, and in backward "
        "dL/dX = grad @ Y.T, dL/dY = X.T @ grad."
    ),
    concept="The product is computed entry by entry, not as a matrix product (in forward or in backward).",
)
WRONG_TRANSPOSE = Misconception("transpose", TRANSPOSE_HINT)


def _buggy_gradients(i, X, Y, G):
    """What each bug gives as the gradient of input ``i`` (0: X, 1: Y); a formula that does not
    fit the shapes raises and is passed over."""
    ones = torch.ones_like(G)
    if i == 0:
        yield IGNORED.gives(lambda: ones @ Y.T)
        yield SIGN.gives(lambda: -(G @ Y.T))
        yield SWAPPED.gives(lambda: X.T @ G)
        yield TRANSPOSED[0].gives(lambda: Y @ G.T)
        yield ELEMENTWISE.gives(lambda: G * Y)
        for wrong in (lambda: G @ Y, lambda: G.T @ Y, lambda: Y.T @ G.T):
            yield WRONG_TRANSPOSE.gives(wrong)
    else:
        yield IGNORED.gives(lambda: X.T @ ones)
        yield SIGN.gives(lambda: -(X.T @ G))
        yield SWAPPED.gives(lambda: G @ Y.T)
        yield TRANSPOSED[1].gives(lambda: G.T @ X)
        yield ELEMENTWISE.gives(lambda: X * G)
        for wrong in (lambda: X @ G, lambda: G @ X, lambda: G.T @ X.T):
            yield WRONG_TRANSPOSE.gives(wrong)


def _shape_hint(i, got_shape, shapes) -> str:
    """The hint for a gradient of input ``i`` with the wrong shape ``got_shape``: the other input's
    shape (swapped), its own shape reversed (transposed), or another."""
    got, own, other = tuple(got_shape), tuple(shapes[i]), tuple(shapes[1 - i])
    if got == other and got != own:
        return SWAPPED.hint
    if got == own[::-1] and got != own:
        return TRANSPOSED[i].hint
    return TRANSPOSE_HINT


INVALID_GRADIENT = re.compile(r"invalid gradient at index (\d) - got \[([\d, ]*)\]")


def _errors(shapes=None):
    """What an error raised by the student's code says, and the hint that names the bug.  ``shapes``:
    the shapes of X and Y, to tell swapped gradients from a wrong transpose (the hint names the bug
    without this input's shapes, so that the tests it fails are shown together)."""

    def invalid_gradient(message):
        m = INVALID_GRADIENT.search(message)
        if not (m and int(m.group(1)) < 2):
            return TRANSPOSE_HINT
        i = int(m.group(1))
        got = tuple(int(v) for v in m.group(2).split(",") if v.strip())
        hint = _shape_hint(i, got, shapes) if shapes is not None else TRANSPOSE_HINT
        return (
            hint
            if hint != TRANSPOSE_HINT
            else f"The gradient for {NAMES[i]} (index {i}) must have {NAMES[i]}'s shape. " + TRANSPOSE_HINT
        )

    return (
        ErrorHint(
            "expected a tensor output",
            "forward returned no tensor: it must `return X @ Y` (after `ctx.save_for_backward(X, Y)`).",
        ),
        ErrorHint("incorrect number of gradients", COUNT_HINT),
        ErrorHint("shapes cannot be multiplied", TRANSPOSE_HINT),
        ErrorHint("invalid gradient at index", invalid_gradient),
        ErrorHint("saved_tensors", SAVE_HINT),
        ErrorHint("not enough values to unpack", SAVE_HINT),
        ErrorHint("too many values to unpack", SAVE_HINT),
        ErrorHint("must match the size of tensor", ELEMENTWISE.hint),
    )


def _apply(student):
    return student.ref("MatMul", "apply")


def _inputs_text(X, Y, G=None, how=("randn", "randn", "randn")) -> str:
    parts = [describe("X", X, how[0]), describe("Y", Y, how[1])]
    if G is not None:
        parts.append(describe("grad", G, how[2]))
    return "; ".join(parts)


def _make(rng, n, k, m, dtype=torch.float32, device="cpu"):
    return randn(rng, (n, k), dtype, device), randn(rng, (k, m), dtype, device)


def _call_apply(student, X, Y, _return_args=False, **kwargs):
    with naming_errors(errors=_errors()):
        return (student.call_and_args if _return_args else student.call)(_apply(student), X, Y, _what=WHAT, **kwargs)


def _backward(student, X, Y, G, wrt=(0, 1)):
    """(output, [gradient or None for each input in wrt]) from one MatMul.apply and backward in the worker."""
    with naming_errors(errors=_errors((X.shape, Y.shape))):
        out, grads, _ = student.vjp(_apply(student), [X, Y], grad_output=G, wrt=wrt, _what=BACKWARD)
    return out, list(grads or []) + [None] * (len(wrt) - len(grads or []))


def _check_forward(student, X, Y, device="cpu", tolerance=ROUNDING):
    got = expect_tensor(_call_apply(student, X, Y), WHAT, _inputs_text(X, Y))
    Xd, Yd = X.double().cpu(), Y.double().cpu()
    expected = Xd @ Yd
    hint = FORWARD_HINT
    if tuple(got.shape) == tuple(expected.shape[::-1]) and expected.shape[0] != expected.shape[1]:
        hint = "forward returned (X @ Y).T, shape (m, n): return `X @ Y`, shape (n, m)."
    assert_close(
        got,
        expected,
        what=WHAT,
        inputs=_inputs_text(X, Y),
        dtype=X.dtype,
        device=device,
        tolerance=tolerance,
        scale=magnitude(Xd.abs() @ Yd.abs()),
        hint=hint,
    )


def _reference_gradient(i, X, Y, G):
    return G @ Y.T if i == 0 else X.T @ G


def _check_grad(i, got, X, Y, G, device="cpu", how=("randn", "randn", "randn"), tolerance=ROUNDING):
    """The gradient for input ``i`` (0: X, 1: Y) against the reference, with a diagnosis."""
    name = NAMES[i]
    inputs = _inputs_text(X, Y, G, how)
    if got is None:
        raise Failure(f"{BACKWARD} gave no gradient for {name}, which requires one\n  input: {inputs}", NONE_HINT)
    got = expect_tensor(got, f"the gradient for {name} from {BACKWARD}", inputs)
    Xd, Yd, Gd = X.double().cpu(), Y.double().cpu(), G.double().cpu()
    expected = _reference_gradient(i, Xd, Yd, Gd)
    shape = tuple((X if i == 0 else Y).shape)
    if tuple(got.shape) != shape:
        raise Failure(
            f"{BACKWARD}: the gradient for {name} has shape {shape_str(got.shape)}, expected "
            f"{shape_str(shape)} ({name}'s shape)\n  input: {inputs}",
            _shape_hint(i, got.shape, (X.shape, Y.shape)),
        )
    allowed = tolerance.at(X.dtype, magnitude(_reference_gradient(i, Xd.abs(), Yd.abs(), Gd.abs())))

    def diagnose(got):
        g = got.detach().double().cpu()
        if g.shape == expected.shape and torch.count_nonzero(g) == 0:
            return "The gradient is all zeros: compute it from grad and the saved inputs. " + GRAD_HINT
        return name_bug(g, expected, _buggy_gradients(i, Xd, Yd, Gd), allowed) or GRAD_HINT

    compare(
        got,
        expected,
        diagnose=diagnose,
        what=f"the gradient for {name} from {BACKWARD}",
        inputs=inputs,
        dtype=X.dtype,
        device=device,
        tolerance=allowed,
    )


# ---------------------------------------------------------------------------
# the class and the forward pass


@pytest.mark.points(0.5)
def test_is_autograd_function(student, rng):
    """MatMul is a subclass of torch.autograd.Function and MatMul.apply(X, Y) computes X @ Y"""
    info = student.inspect(student.ref("MatMul"), _what="inspecting MatMul")
    check(info.get("is_class"), f"MatMul is not a class (it is a {info.get('type')})", FUNCTION_HINT)
    check(
        info.get("is_function"),
        "MatMul is not a subclass of torch.autograd.Function "
        f"(its bases: {', '.join(info.get('bases', [])) or 'none'})",
        FUNCTION_HINT,
    )
    _check_forward(student, *_make(rng, 2, 3, 4), tolerance=ROUNDING)


SHAPES = {
    "3x4@4x5": (3, 4, 5),
    "1x7@7x2": (1, 7, 2),
    "6x1@1x3": (6, 1, 3),
    "5x4@4x1": (5, 4, 1),
    "32x20@20x16": (32, 20, 16),
}


@pytest.mark.points(2.5)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("nkm", SHAPES.values(), ids=SHAPES.keys())
def test_forward(student, rng, nkm, dtype, device):
    """MatMul.apply(X, Y) equals X @ Y on non-square matrices, keeping the dtype and device"""
    _check_forward(student, *_make(rng, *nkm, dtype, device), device=device, tolerance=ROUNDING)


@pytest.mark.points(0.5)
def test_inputs_not_modified(student, rng):
    """MatMul.apply(X, Y) leaves X and Y unchanged"""
    X, Y = _make(rng, 3, 4, 5)
    got, args = _call_apply(student, X, Y, _return_args=True)
    expect_tensor(got, WHAT)
    for name, after, before in zip(NAMES, args, (X, Y)):
        assert_unchanged(
            after,
            before,
            what=WHAT,
            name=f"its input {name}",
            inputs=_inputs_text(X, Y),
            hint="Don't modify the inputs (no `X @= ...`, `.t_()`, `.mul_()`): return the new tensor `X @ Y`.",
        )


# ---------------------------------------------------------------------------
# the backward pass

GRAD_CASES = {
    "3x4@4x5": ((3, 4, 5), torch.float32),
    "1x7@7x2": ((1, 7, 2), torch.float32),
    "6x1@1x3-float64": ((6, 1, 3), torch.float64),
}


@pytest.mark.points(1.75)
@pytest.mark.parametrize("case", GRAD_CASES.values(), ids=GRAD_CASES.keys())
def test_grad_X(student, rng, case, device):
    """backward with a random incoming gradient gives X the gradient grad @ Y^T (only X requires grad)"""
    (n, k, m), dtype = case
    X, Y = _make(rng, n, k, m, dtype, device)
    G = randn(rng, (n, m), dtype, device)
    _, grads = _backward(student, X, Y, G, wrt=(0,))
    _check_grad(0, grads[0], X, Y, G, device, tolerance=ROUNDING)


@pytest.mark.points(1.75)
@pytest.mark.parametrize("case", GRAD_CASES.values(), ids=GRAD_CASES.keys())
def test_grad_Y(student, rng, case, device):
    """backward with a random incoming gradient gives Y the gradient X^T @ grad (only Y requires grad)"""
    (n, k, m), dtype = case
    X, Y = _make(rng, n, k, m, dtype, device)
    G = randn(rng, (n, m), dtype, device)
    _, grads = _backward(student, X, Y, G, wrt=(1,))
    _check_grad(1, grads[0], X, Y, G, device, tolerance=ROUNDING)


BOTH = {"3x4@4x5": (3, 4, 5), "square4": (4, 4, 4)}


@pytest.mark.points(1)
@pytest.mark.parametrize("nkm", BOTH.values(), ids=BOTH.keys())
def test_grads_both(student, rng, nkm):
    """with X and Y both requiring grad, backward gives each its gradient (also for square 4x4 matrices)"""
    n, k, m = nkm
    X, Y = _make(rng, n, k, m)
    G = randn(rng, (n, m))
    _, grads = _backward(student, X, Y, G)
    _check_grad(0, grads[0], X, Y, G, tolerance=ROUNDING)
    _check_grad(1, grads[1], X, Y, G, tolerance=ROUNDING)


def _gradcheck_hint(student, rng, X, Y) -> str | None:
    """After a failed gradcheck: the mistake behind the wrong gradient, named from one more backward
    with a random incoming gradient (the same comparison as test_grad_X and test_grad_Y)."""
    G = randn(rng, (X.shape[0], Y.shape[1]), X.dtype)
    try:
        _, grads = _backward(student, X, Y, G)
    except StudentError:
        return None
    for i, g in enumerate(grads):
        expected = _reference_gradient(i, X, Y, G)
        if isinstance(g, torch.Tensor) and g.shape == expected.shape:
            hint = name_bug(g, expected, _buggy_gradients(i, X, Y, G), ROUNDING.at(X.dtype, magnitude(expected)))
            if hint:
                return hint
    return None


# the student edition's gradcheck: the same check on inputs of its own (no expected value leaves here)
GRADCHECK = VisibleGradcheck(
    test="test_gradcheck",
    fn=("MatMul", "apply"),
    what=WHAT,
    names=NAMES,
    inputs=lambda rng: [randn(rng, (3, 4), torch.float64), randn(rng, (4, 2), torch.float64)],
    description="your backward's gradients match finite differences (torch.autograd.gradcheck)",
    seed=1008,
)


@pytest.mark.points(1.5)
def test_gradcheck(student, rng):
    """torch.autograd.gradcheck through MatMul.apply in float64 on 3x4 @ 4x5"""
    X, Y = _make(rng, 3, 4, 5, torch.float64)
    try:
        with naming_errors(errors=_errors((X.shape, Y.shape))):
            gradcheck(student, _apply(student), [X, Y], WHAT, X @ Y, names=list(NAMES), tolerance=FINITE_DIFFERENCES)
    except Failure as f:
        if f.hint == FORWARD_FIRST:
            raise
        hint = NONE_HINT if "gave no gradient" in f.message else _gradcheck_hint(student, rng, X, Y)
        if not hint:
            raise
        raise Failure(f.message, hint) from None


@pytest.mark.visible
@pytest.mark.points(0.5)
def test_small_example(student):
    """a small example to work by hand: X (2x3), Y (3x4), grad (2x4); X @ Y and both gradients"""
    (X, Y, G), how = SMALL_EXAMPLE.make()
    # one call of the student's code (forward and backward), so that it is the one a reproducer shows
    out, grads = _backward(student, X, Y, G)
    out = expect_tensor(out, WHAT, _inputs_text(X, Y, how=how))
    compare(
        out,
        X.double() @ Y.double(),
        diagnose=lambda got: FORWARD_HINT,
        what=WHAT,
        inputs=_inputs_text(X, Y, how=how),
        dtype=X.dtype,
        tolerance=ROUNDING,
    )
    _check_grad(0, grads[0], X, Y, G, how=how, tolerance=ROUNDING)
    _check_grad(1, grads[1], X, Y, G, how=how, tolerance=ROUNDING)
