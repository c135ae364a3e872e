"""torch.autograd.gradcheck through the student's code, run in the grader.

The inputs are made here; a proxy Function whose forward and backward are the student's code in
the worker lets torch's own gradcheck run in the grader's process, so a student who patches
autograd in the worker cannot change the verdict.  The requests it needs are batched here: one
request answers the backward calls of torch's fast gradcheck together.
"""

from __future__ import annotations

import torch

from grader.verdicts.checks import Failure, assert_close, describe, expect_tensor, fmt, shape_str
from grader.verdicts.diagnosis import naming_errors
from grader.verdicts.hints import FORWARD_FIRST
from grader.verdicts.tolerances import FINITE_DIFFERENCES, FORWARD_BEFORE_GRADIENT, magnitude
from grader.wire.codec import meta


def _jacobians(student, fn, inputs, what, eps=1e-6, full=None, wrt=None):
    """Numerical (from the student's forward) and analytical (from the
    student's backward) Jacobians, one per input: (out.numel(), x.numel()).  ``full(xs)``: the
    call's (arguments, keyword arguments) with ``xs`` at the places ``wrt`` (default: ``xs`` themselves)."""
    full = full or (lambda xs: (xs, {}))
    wrt = range(len(inputs)) if wrt is None else wrt

    def call(xs):
        args, kwargs = full(xs)
        return expect_tensor(student.call(fn, *args, _what=what, **kwargs), what)

    out = call(inputs)
    numerical, analytical = [], []
    for i, x in enumerate(inputs):
        cols = []
        for k in range(x.numel()):
            xp, xm = x.clone(), x.clone()
            xp.view(-1)[k] += eps
            xm.view(-1)[k] -= eps
            args_p = list(inputs)
            args_p[i] = xp
            args_m = list(inputs)
            args_m[i] = xm
            fp, fm = call(args_p).double(), call(args_m).double()
            cols.append(((fp - fm) / (2 * eps)).reshape(-1))
        numerical.append(torch.stack(cols, 1) if cols else torch.zeros(out.numel(), 0))
    rows = [[] for _ in inputs]
    for j in range(out.numel()):
        g = torch.zeros(out.numel(), dtype=out.dtype)
        g[j] = 1
        args, kwargs = full(inputs)
        _, grads, _ = student.vjp(
            fn, args, grad_output=g.reshape(out.shape), wrt=wrt, _what=f"backward through {what}", **kwargs
        )
        for i, x in enumerate(inputs):
            gi = grads[i] if i < len(grads) else None
            rows[i].append(
                torch.zeros(x.numel(), dtype=torch.float64)
                if gi is None
                else expect_tensor(gi, f"the gradient of {what}").double().reshape(-1)
            )
    for i in range(len(inputs)):
        analytical.append(torch.stack(rows[i], 0) if rows[i] else torch.zeros(0, inputs[i].numel()))
    return out, numerical, analytical


def gradcheck(
    student,
    fn,
    inputs,
    what: str,
    expected: torch.Tensor | None,
    names=None,
    tolerance=FINITE_DIFFERENCES,
    wrt=None,
    kwargs=None,
) -> None:
    """torch.autograd.gradcheck through the student's code, in float64.

    The student's forward on ``inputs`` must first give ``expected`` (the reference's
    output): gradcheck only proves that backward matches forward, so the gradient of
    a wrong function (an identity softmax) would pass.  ``expected=None`` (the student
    edition, which holds no answer) checks backward against forward only.  On failure the message names
    the input, the entry of the Jacobian that is furthest off, and expected (finite
    differences) versus got (backward).  The forward must be right within
    ``FORWARD_BEFORE_GRADIENT``; the gradient within ``tolerance``.  ``wrt``: the positions of
    the arguments ``inputs`` that are checked (``names`` names those), the others (a shape, an eps)
    passed as they are; by default every argument, each a tensor.  ``kwargs``: the call's keyword
    arguments, passed as they are unless ``wrt`` names one (its keyword, a str, beside the positions).
    """
    rtol, atol = tolerance
    arguments, keywords = list(inputs), dict(kwargs or {})
    positions = tuple(range(len(arguments))) if wrt is None else tuple(wrt)
    inputs = [keywords[i] if isinstance(i, str) else arguments[i] for i in positions]

    def full(xs) -> tuple:
        """The call's (arguments, keyword arguments), with ``xs`` at the places ``positions``."""
        at = dict(zip(positions, xs))
        return [at.get(i, a) for i, a in enumerate(arguments)], {k: at.get(k, v) for k, v in keywords.items()}

    names = names or [f"input {i}" for i in range(len(inputs))]
    inputs = [x.detach().double() for x in inputs]

    # the student's backward must give a gradient for every input
    with naming_errors():
        args, kw = full(inputs)
        out0, grads, _ = student.vjp(fn, args, wrt=positions, _what=f"backward through {what}", **kw)
    out0 = expect_tensor(out0, what)
    _check_forward(out0, expected, what, "; ".join(describe(nm, x) for nm, x in zip(names, inputs)))
    _check_gradients_given(grads, out0, inputs, what, names)

    # torch's fast gradcheck runs backward with a vector v, with v again (is backward reentrant?), then
    # with zeros twice (the second after a new forward): one request runs the student's backward for each
    # of them, on one forward of the same inputs; a call that differs gets a request of its own.
    # Its forward on the inputs themselves (twice) is the output the first request gave.
    ahead: list = []  # [inputs, grad_output, input grads] answered ahead of the call
    same = lambda a, b: a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)

    class Proxy(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *xs):
            ctx.save_for_backward(*xs)
            if len(xs) == len(inputs) and all(same(x, y) for x, y in zip(xs, inputs)):
                return out0.detach().clone().double()
            args, kw = full(xs)
            return expect_tensor(student.call(fn, *args, _what=what, _grad="no_grad", **kw), what).double()

        @staticmethod
        def backward(ctx, g):
            xs = ctx.saved_tensors
            k = next(
                (
                    k
                    for k, (ys, h, _) in enumerate(ahead)
                    if same(h, g) and len(ys) == len(xs) and all(same(x, y) for x, y in zip(xs, ys))
                ),
                None,
            )
            if k is None:
                vectors = [g, g, torch.zeros_like(g), torch.zeros_like(g)]
                args, kw = full(xs)
                _, every = student.vjps(fn, args, vectors, wrt=positions, _what=f"backward through {what}", kwargs=kw)
                ahead[:] = [[[x.detach().clone() for x in xs], v, gs] for v, gs in zip(vectors, every)]
                k = 0
            gs = ahead.pop(k)[2]
            return tuple(torch.zeros_like(x) if gi is None else gi.double() for x, gi in zip(xs, gs))

    leaves = [x.clone().requires_grad_() for x in inputs]
    ok = torch.autograd.gradcheck(
        Proxy.apply, leaves, eps=1e-6, atol=atol, rtol=rtol, raise_exception=False, fast_mode=True
    )
    if ok:
        return
    _explain_failure(student, fn, inputs, what, names, rtol, atol, full, positions)


def _check_forward(out0: torch.Tensor, expected: torch.Tensor | None, what: str, shown: str) -> None:
    """The student's forward keeps float64 and (given ``expected``) is right: the gradient of a wrong
    function would prove nothing."""
    if out0.is_floating_point() and out0.dtype != torch.float64:
        raise Failure(
            f"{what} returned {str(out0.dtype).replace('torch.', '')} for float64 input, so its "
            "gradient cannot be checked",
            "Keep the input's dtype: make new tensors with `dtype=x.dtype` or the `*_like` functions, "
            "and don't call .float()/.double() on the result.",
        )
    if expected is not None:  # None: the student edition's check, which holds no answer
        expected = expected.detach().cpu().double()
        try:
            assert_close(
                out0,
                expected,
                what=what,
                inputs=shown,
                dtype=torch.float64,
                tolerance=FORWARD_BEFORE_GRADIENT,
                scale=magnitude(expected),
            )
        except Failure as f:
            raise Failure(f.message + "\n  (the gradient is checked only for a right forward)", FORWARD_FIRST) from None


def _check_gradients_given(grads, out0: torch.Tensor, inputs: list, what: str, names) -> None:
    """The student's backward gave a gradient of its input's shape for every input."""
    for i, g in enumerate(grads):
        if g is None:
            raise Failure(
                f"backward through {what} gave no gradient for {names[i]}, which requires one "
                f"(the output {'has no grad_fn' if not meta(out0).requires_grad else 'does not depend on it'})",
                "Every input that requires a gradient needs one: build the output with torch "
                "operations on the inputs (no .detach(), .item() or .numpy() in between), and in a "
                "custom Function return one gradient per input from backward.",
            )
        g = expect_tensor(g, f"the gradient of {what}")
        if tuple(g.shape) != tuple(inputs[i].shape):
            raise Failure(
                f"backward through {what}: the gradient for {names[i]} has shape {shape_str(g.shape)}, "
                f"expected {shape_str(inputs[i].shape)} (the input's shape)",
                "A gradient always has its input's shape; check the transposes.",
            )


def _explain_failure(student, fn, inputs: list, what: str, names, rtol: float, atol: float, full=None, wrt=None):
    """Raise the Failure naming the entry of the Jacobian furthest off (gradcheck said only that one is)."""
    out, numerical, analytical = _jacobians(student, fn, inputs, what, full=full, wrt=wrt)
    worst = None
    for i, (n, a) in enumerate(zip(numerical, analytical)):
        if n.numel() == 0:
            continue
        err = (n - a).abs() - rtol * n.abs()
        k = int(err.reshape(-1).argmax())
        if worst is None or err.reshape(-1)[k] > worst[0]:
            worst = (float(err.reshape(-1)[k]), i, k // n.shape[1], k % n.shape[1], n, a)
    if worst is None:
        raise Failure(f"gradcheck failed for {what}")
    _, i, r, c, n, a = worst
    bad = int(((n - a).abs() > atol + rtol * n.abs()).sum())
    out_idx = list(torch.unravel_index(torch.tensor(r), out.shape)) if out.dim() else []
    in_idx = list(torch.unravel_index(torch.tensor(c), inputs[i].shape))
    fmt_idx = lambda ix: "[" + ", ".join(str(int(v)) for v in ix) + "]"
    raise Failure(
        f"torch.autograd.gradcheck failed for {what} (float64)\n"
        f"  input: " + "; ".join(describe(nm, x) for nm, x in zip(names, inputs)) + "\n"
        f"  wrong gradient for {names[i]}: {bad} of {n.numel()} Jacobian entries are off\n"
        f"  d output{fmt_idx(out_idx)} / d {names[i]}{fmt_idx(in_idx)}: expected {fmt(float(n[r, c]))} "
        f"(finite differences of your forward), got {fmt(float(a[r, c]))} (your backward)",
        "Your backward does not match your forward. Derive the gradient on paper for a 2x2 case "
        "and check every transpose and sign.",
    )
