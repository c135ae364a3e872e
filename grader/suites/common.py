"""Helpers shared by the hidden suites.

Inputs are made in the grader's process from the test's seeded generator and
sent to the worker as plain data.  ``gradcheck`` runs torch.autograd.gradcheck
here, in the grader, through a proxy Function whose forward and backward are
the student's code in the worker, so a student who patches autograd in the
worker cannot change the verdict.
"""
from __future__ import annotations

import pytest
import torch

from grader.checks import Failure, describe, expect_tensor, fmt, shape_str
from grader.wire import meta

CUDA = torch.cuda.is_available()
NO_CUDA = "CUDA is not available on this machine: the GPU variant is skipped and not counted"
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not CUDA, reason=NO_CUDA))]
DTYPES = [pytest.param(torch.float32, id="float32"), pytest.param(torch.float64, id="float64")]


def randn(rng: torch.Generator, shape, dtype=torch.float32, device="cpu", scale: float = 1.0) -> torch.Tensor:
    """Seeded normal values (made on the CPU so every device sees the same numbers)."""
    return (torch.randn(shape, generator=rng, dtype=torch.float64) * scale).to(dtype).to(device)


def randint(rng: torch.Generator, high: int, shape, device="cpu") -> torch.Tensor:
    return torch.randint(0, high, shape, generator=rng).to(device)


def _jacobians(student, fn, inputs, what, eps=1e-6):
    """Numerical (from the student's forward) and analytical (from the
    student's backward) Jacobians, one per input: (out.numel(), x.numel())."""
    out = expect_tensor(student.call(fn, *inputs, _what=what), what)
    numerical, analytical = [], []
    for i, x in enumerate(inputs):
        cols = []
        for k in range(x.numel()):
            xp, xm = x.clone(), x.clone()
            xp.view(-1)[k] += eps
            xm.view(-1)[k] -= eps
            args_p = list(inputs); args_p[i] = xp
            args_m = list(inputs); args_m[i] = xm
            fp = expect_tensor(student.call(fn, *args_p, _what=what), what).double()
            fm = expect_tensor(student.call(fn, *args_m, _what=what), what).double()
            cols.append(((fp - fm) / (2 * eps)).reshape(-1))
        numerical.append(torch.stack(cols, 1) if cols else torch.zeros(out.numel(), 0))
    rows = [[] for _ in inputs]
    for j in range(out.numel()):
        g = torch.zeros(out.numel(), dtype=out.dtype)
        g[j] = 1
        _, grads, _ = student.vjp(fn, inputs, grad_output=g.reshape(out.shape), wrt=range(len(inputs)),
                                  _what=f"backward through {what}")
        for i, x in enumerate(inputs):
            gi = grads[i] if i < len(grads) else None
            rows[i].append(torch.zeros(x.numel(), dtype=torch.float64) if gi is None
                           else expect_tensor(gi, f"the gradient of {what}").double().reshape(-1))
    for i in range(len(inputs)):
        analytical.append(torch.stack(rows[i], 0) if rows[i] else torch.zeros(0, inputs[i].numel()))
    return out, numerical, analytical


def gradcheck(student, fn, inputs, what: str, names=None, atol=1e-5, rtol=1e-3) -> None:
    """torch.autograd.gradcheck through the student's code, in float64.

    On failure the message names the input, the entry of the Jacobian that is
    furthest off, and expected (finite differences) versus got (backward).
    """
    names = names or [f"input {i}" for i in range(len(inputs))]
    inputs = [x.detach().double() for x in inputs]

    # the student's backward must give a gradient for every input
    out0, grads, _ = student.vjp(fn, inputs, wrt=range(len(inputs)), _what=f"backward through {what}")
    out0 = expect_tensor(out0, what)
    for i, g in enumerate(grads):
        if g is None:
            raise Failure(f"backward through {what} gave no gradient for {names[i]}, which requires one "
                          f"(the output {'has no grad_fn' if not meta(out0).requires_grad else 'does not depend on it'})",
                          "Every input that requires a gradient needs one: build the output with torch "
                          "operations on the inputs (no .detach(), .item() or .numpy() in between), and in a "
                          "custom Function return one gradient per input from backward.")
        g = expect_tensor(g, f"the gradient of {what}")
        if tuple(g.shape) != tuple(inputs[i].shape):
            raise Failure(f"backward through {what}: the gradient for {names[i]} has shape {shape_str(g.shape)}, "
                          f"expected {shape_str(inputs[i].shape)} (the input's shape)",
                          "A gradient always has its input's shape; check the transposes.")

    class Proxy(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *xs):
            ctx.save_for_backward(*xs)
            return expect_tensor(student.call(fn, *xs, _what=what, _grad="no_grad"), what).double()

        @staticmethod
        def backward(ctx, g):
            xs = ctx.saved_tensors
            _, gs, _ = student.vjp(fn, xs, grad_output=g, wrt=range(len(xs)), _what=f"backward through {what}")
            return tuple(torch.zeros_like(x) if gi is None else gi.double() for x, gi in zip(xs, gs))

    leaves = [x.clone().requires_grad_() for x in inputs]
    ok = torch.autograd.gradcheck(Proxy.apply, leaves, eps=1e-6, atol=atol, rtol=rtol,
                                   raise_exception=False, fast_mode=True)
    if ok:
        return
    out, numerical, analytical = _jacobians(student, fn, inputs, what)
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
        "and check every transpose and sign.")
