"""Helpers shared by the hidden suites.

Inputs are made in the grader's process from the test's seeded generator and
sent to the worker as plain data.  ``gradcheck`` runs torch.autograd.gradcheck
here, in the grader, through a proxy Function whose forward and backward are
the student's code in the worker, so a student who patches autograd in the
worker cannot change the verdict.

Naming the bug behind a wrong answer (``match_bug``, ``probe``, ``call_checked``,
``compare``): a suite lists deliberately wrong variants of its reference and,
only when a check fails, recomputes them on the test's own input to name the
one that gives the student's numbers, or re-runs the student's code on the same
rows reshaped (as 2-D, with another batch size) to tell what the failure
depends on.  A passing check costs nothing extra.
"""
from __future__ import annotations

import re
import weakref
from contextlib import contextmanager

import pytest
import torch

from grader.verdicts.checks import Failure, assert_close, describe, expect_tensor, fmt, shape_str, tol
from grader.transport.student import Call, Student, StudentError
from grader.transport.wire import meta

GPU = "cuda"  # the torch device a GPU run uses (a test may point it at another device to fake one)


def devices() -> list:
    """(label, torch device) of each device a test that takes a ``device`` argument runs on, in
    order: the CPU, then the GPU where CUDA exists.  They add evidence to the same test (one
    report entry, the same points on every machine): it passes only if it passes on each."""
    return [("cpu", "cpu")] + ([("cuda", GPU)] if torch.cuda.is_available() else [])


DTYPES = [pytest.param(torch.float32, id="float32"), pytest.param(torch.float64, id="float64")]


def randn(rng: torch.Generator, shape, dtype=torch.float32, device="cpu", scale: float = 1.0) -> torch.Tensor:
    """Seeded normal values (made on the CPU so every device sees the same numbers)."""
    return (torch.randn(shape, generator=rng, dtype=torch.float64) * scale).to(dtype).to(device)


def randint(rng: torch.Generator, high: int, shape, device="cpu") -> torch.Tensor:
    return torch.randint(0, high, shape, generator=rng).to(device)


def read_values(student, refs, what: str) -> list:
    """The values of several worker-side names (``Ref``s such as ``handle.attr("grad")``) in one
    round trip instead of one ``getattr`` each: torch's nn.Identity gives back the list it gets."""
    return student.call(Call(Student.torch("nn.Identity")), list(refs), _what=what)


_CLASS_INFO: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def class_info(student, name: str) -> dict:
    """``student.inspect`` of the class ``name`` in the student's file, asked once per exercise
    (the class is the file's: it does not change from test to test)."""
    known = _CLASS_INFO.setdefault(student, {})
    if name not in known:
        known[name] = student.inspect(student.ref(name), _what=f"inspecting the class {name}")
    return known[name]


# -- naming the bug behind a wrong answer ------------------------------------------------

BATCH_SIZES = (64, 100, 128, 32)  # batch sizes students hard-code (the course notes use 64)
ONLY_2D = ("Your code is right for a 2-D input (n, k) only, but the input may have any number of dimensions: "
           "(k,), (n, k), (b, n, k). Reduce over dim=-1 with keepdim=True instead of dim=1, and don't unpack "
           "`n, k = x.shape` or loop over the rows.")

NO_KEEPDIM = ("The row max or sum lost its dimension, so it broadcast against the wrong axis: reduce with "
              "keepdim=True (x.max(dim=-1, keepdim=True).values, .sum(dim=-1, keepdim=True)) or unsqueeze(-1).")


def wrong_dim_hint(d: int, name: str) -> str:
    """``name`` (softmax, log-softmax) reduced over dim=d of an input with more dimensions than d + 1."""
    if d == 1:  # not the last dimension: the input has 3 or more
        return ONLY_2D
    return (f"You normalise over dim={d}, but {name} works over the LAST dimension whatever the number of "
            "dimensions: reduce with dim=-1 (keepdim=True).")


def hard_coded_hint(b) -> str:
    return (f"The batch size {b} seems hard-coded (as in view({b}, 1) or torch.arange({b})): take sizes from the "
            "input (x.shape[0], or -1 in view) or reduce with keepdim=True, so that any batch size works.")


# What an error raised by the student's code says, and the hint that names the bug.
ERROR_HINTS = (
    (re.compile(r"shape '\[(\d+)[-\d, ]*\]' is invalid for input of size"), hard_coded_hint("{0}")),
    (re.compile(r"'torch\.return_types\.(max|min)'"),
     "x.{0}(dim=...) returns a pair (values, indices): take .values, as in x.{0}(dim=-1, keepdim=True).values, "
     "or use x.a{0}(dim=-1, keepdim=True)."),
    (re.compile(r"expected a tensor output, got (\w+)"),
     "Return a torch.Tensor, not {0}: no .numpy(), .tolist() or .item() at the end, and don't forget the return."),
)


def error_hint(message: str) -> str | None:
    for pattern, hint in ERROR_HINTS:
        m = pattern.search(message)
        if m:
            return hint.format(*m.groups())
    return None


def join(hints) -> str | None:
    """The hint of the one bug that explains a result, or of each candidate."""
    hints = list(dict.fromkeys(h for h in hints if h))
    if len(hints) <= 1:
        return hints[0] if hints else None
    return "More than one bug gives exactly this result: " + " ".join(
        f"({i}) {h}" for i, h in enumerate(hints[:3], 1))


def _same(a: torch.Tensor, b: torch.Tensor, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def match_bug(got: torch.Tensor, expected: torch.Tensor, bugs, rtol: float, atol: float,
              prefer: str | None = None) -> str | None:
    """The hint of the bug that gives ``got``, or None.

    ``bugs`` yields (compute, key, hint): what a bug computes on the test's input
    (in the input's dtype, so that overflow shows the same way), which bug it is
    (variants of one bug share a key; the first that matches gives the hint) and
    the hint naming it.  A variant that raises on this input, or is right here,
    is passed over; ``prefer`` names the bug an input is built to expose when
    others give the same numbers.
    """
    g = got.detach().cpu().double()
    e = expected.detach().cpu().double()
    found = {}
    for compute, key, hint in bugs:
        if key in found:
            continue
        try:
            b = compute().double()
        except (RuntimeError, IndexError):  # that bug would have raised on this input
            continue
        if not _same(b, e, rtol, atol) and _same(g, b, max(rtol, 1e-4), max(atol, 1e-4)):
            found[key] = hint
    return found.get(prefer) or join(found.values())


def right_on(student, fn, args, expected: torch.Tensor, rtol: float, atol: float) -> bool:
    """Whether the student's fn(*args) gives ``expected`` (a probe: its failure is not reported)."""
    try:
        got = student.call(fn, *args, _what="a probe")
        assert_close(got, expected, what="a probe", dtype=expected.dtype, rtol=rtol, atol=atol)
    except Failure:
        return False
    except StudentError as e:
        if e.kind in StudentError.RUN_KINDS:  # it crashed, timed out or ran out of budget: stop probing
            raise
        return False
    return True


def probe(right, shape) -> str | None:
    """What a failure on an input of ``shape`` depends on: ``right(rows)`` re-runs the
    student's code on the rows ``rows`` of that input made 2-D, (-1, shape[-1]), and
    tells whether the answer is right.  Right on the same rows as 2-D: only 2-D input
    is handled; right with 64 (or another common number of) rows: a hard-coded batch size."""
    if not shape or 0 in shape:
        return None
    n = 1
    for s in shape[:-1]:
        n *= s
    try:
        if len(shape) != 2 and right(torch.arange(n)):
            return ONLY_2D
        for b in BATCH_SIZES:
            if b != n and right(torch.arange(b) % n):
                return hard_coded_hint(b)
    except StudentError:
        pass
    return None


def probe_rows(student, fn, reference_fn, x: torch.Tensor, rtol: float, atol: float) -> str | None:
    """probe() for a function that works along the last dimension of its one input ``x``."""
    if x.dim() == 0:
        return None
    flat = x.detach().cpu().reshape(-1, x.shape[-1])
    return probe(lambda rows: right_on(student, fn, [flat[rows].to(x.device)],
                                       reference_fn(flat[rows].double()).to(x.dtype), rtol, atol), tuple(x.shape))


@contextmanager
def naming_errors(diagnose=None):
    """When the student's code raises inside the block, ``diagnose(None)`` (or, failing that,
    what the error says) may give a hint naming the bug in place of the generic one."""
    try:
        yield
    except StudentError as e:
        hint = ((diagnose and diagnose(None)) or error_hint(e.message)) if e.kind == "exception" else None
        if not hint:
            raise
        raise StudentError(e.kind, e.message, hint, **e.details) from None


def call_checked(student, fn, *args, diagnose, _return_args=False, **kwargs):
    """student.call(fn, *args, **kwargs) (``_return_args``: student.call_and_args), its errors
    explained by naming_errors(diagnose)."""
    with naming_errors(diagnose):
        return (student.call_and_args if _return_args else student.call)(fn, *args, **kwargs)


def compare(got, expected: torch.Tensor, *, diagnose, dtype: torch.dtype, device: str = "cpu", **kwargs):
    """assert_close(got, expected, ...); when the values or the shape are wrong, ``diagnose(got)``
    may give a hint naming the bug (a wrong type, dtype or device keeps assert_close's own hint)."""
    try:
        return assert_close(got, expected, dtype=dtype, device=device, **kwargs)
    except Failure as f:
        if isinstance(got, torch.Tensor) and (got.shape != expected.shape or (
                got.dtype == dtype and meta(got).device.split(":")[0] == device)):
            hint = diagnose(got)
            if hint:
                raise Failure(f.message, hint) from None
        raise


def check_call(student, fn, args, expected: torch.Tensor, *, what: str, inputs: str, diagnose,
               dtype: torch.dtype, device: str, rtol: float, atol: float, return_args: bool = False):
    """The student's fn(*args) compared with ``expected``; a failure is explained by ``diagnose``
    (see call_checked and compare).  Returns what student.call returns."""
    got = call_checked(student, fn, *args, _what=what, _return_args=return_args, diagnose=diagnose)
    compare(got[0] if return_args else got, expected, diagnose=diagnose, what=what, inputs=inputs, dtype=dtype,
            device=device, rtol=rtol, atol=atol)
    return got


def check_rows(student, name: str, reference_fn, x: torch.Tensor, how: str, device: str, *, bugs, fallback,
               prefer: str | None = None, probing: bool = True, return_args: bool = False):
    """The student's ``name``(x), a function along the last dimension of ``x``, against
    ``reference_fn`` in float64.  A failure is named by the first that gives a hint: the
    catalogue ``bugs(x)`` (match_bug), the probes (probe_rows; ``probing=False`` in a visible
    test, so that the student's last call is the test's own input) and ``fallback(got, x)``,
    properties of a result of the right shape."""
    what = f"{name}(x)"
    expected = reference_fn(x.detach().cpu().double())
    rtol, atol = tol(x.dtype, x.abs().max().item() if x.numel() else 1.0)
    fn = student.ref(name)

    def diagnose(got):
        return ((got is not None and match_bug(got, expected, bugs(x.detach().cpu()), rtol, atol, prefer))
                or (probing and probe_rows(student, fn, reference_fn, x, rtol, atol))
                or (got is not None and got.shape == expected.shape and fallback(got.detach().cpu().double(), x))
                or None)

    return check_call(student, fn, [x], expected, what=what, inputs=describe("x", x, how), diagnose=diagnose,
                      dtype=x.dtype, device=device, rtol=rtol, atol=atol, return_args=return_args)


# -- following the input's device, without a GPU ------------------------------------------

DEVICE_HINT = ("Your code makes a new tensor on the CPU whatever the input's device (as torch.zeros(shape), "
               "torch.tensor(...) or torch.empty(shape) do by default), so it breaks on a GPU. Create it on the "
               "input's device: torch.zeros_like(x), or pass device=x.device (and dtype=x.dtype).")
MOVED_HINT = ("Your code moves a tensor to a device it chooses itself (as .to('cuda' if torch.cuda.is_available() "
              "else 'cpu'), .to('cpu'), .cpu() or .cuda() do), not the input's: the result must stay on the input's "
              "device whatever devices the machine has. Drop the move, or use .to(x.device).")
MOVE_LINE = re.compile(r", line \d+: .*\.(to|cpu|cuda)\(")  # the line of the student's code that raised
# what torch says when CPU tensors meet the input's: on a GPU, and on the meta device
MIXED_DEVICES = re.compile(r"Expected all tensors to be on the same device|is not on the expected device|"
                           r"found at least two devices|Cannot copy out of meta tensor")
META = ("PyTorch's data-free 'meta' device stands in for a GPU here: it tracks shapes, dtypes and devices "
        "without computing anything")


META_HINT = ("Compute with tensor operations only (torch.where, clamp, max, sum, ...): a Python decision on a "
             "tensor's values (.item(), float(t), `if t > 0:`, .tolist(), .numpy()) cannot run on a GPU-like device "
             "without copying the data back, and this test cannot judge such code.")


def check_follows_device(student, fn, args, expected: torch.Tensor, what: str, names) -> None:
    """The student's fn(*args) must be right on the CPU and, given the same arguments
    on the meta device, answer on the meta device: a result on the CPU, or torch's
    mixed-devices error, means a tensor was made on the CPU whatever the input's device.
    Code that cannot run on meta tensors for another reason (a .item(), say) fails the
    test: a skip would let a submission decide that it is not judged."""
    inputs = "; ".join(describe(n, a) for n, a in zip(names, args))
    got = student.call(fn, *args, _what=what)
    rtol, atol = tol(expected.dtype)
    try:
        assert_close(got, expected, what=what, inputs=inputs, rtol=rtol, atol=atol)
    except Failure as f:
        raise Failure(f.message, f.hint if not isinstance(got, torch.Tensor) or got.shape != expected.shape else
                      DEVICE_VALUES_FIRST) from None
    on_meta = [a.to("meta") for a in args]
    inputs = "; ".join(describe(n, a) for n, a in zip(names, on_meta))
    try:
        got = student.call(fn, *on_meta, _what=what)
    except StudentError as e:
        if e.kind == "exception" and MIXED_DEVICES.search(e.message):
            moved = "Cannot copy out of meta tensor" in e.message and MOVE_LINE.search(e.message)
            raise Failure(f"{e.message}\n  input: {inputs}\n  ({META})", MOVED_HINT if moved else DEVICE_HINT) from None
        if e.kind == "exception":  # the student's code decides whether this test runs: it cannot skip it
            raise Failure(f"{what} could not run on the meta device, so the grader cannot tell whether it follows "
                          f"the input's device: {e.message.splitlines()[0][:200]}\n  input: {inputs}\n  ({META})",
                          META_HINT) from None
        raise
    got = expect_tensor(got, what, inputs)
    device = meta(got).device
    if device != "meta":
        raise Failure(f"{what} returned a tensor on {device}, but its input was on the meta device"
                      f"\n  input: {inputs}\n  ({META})", DEVICE_HINT)


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


DEVICE_VALUES_FIRST = ("This test checks that the result follows the input's device once its values are right on "
                       "the CPU: fix the wrong values that the other tests report first.")
FORWARD_FIRST = ("This test checks the gradient of your forward, so it earns its points only once the forward "
                 "is right (a gradient that matches a wrong function proves nothing): fix the values that the "
                 "other tests report first.")
# hints that send the student to another test's failure: not misconceptions of their own (class summary)
FOLLOW_UPS = (DEVICE_VALUES_FIRST, FORWARD_FIRST)


def gradcheck(student, fn, inputs, what: str, expected: torch.Tensor | None, names=None, atol=1e-5, rtol=1e-3) -> None:
    """torch.autograd.gradcheck through the student's code, in float64.

    The student's forward on ``inputs`` must first give ``expected`` (the reference's
    output): gradcheck only proves that backward matches forward, so the gradient of
    a wrong function (an identity softmax) would pass.  ``expected=None`` (the student
    edition, which holds no answer) checks backward against forward only.  On failure the message names
    the input, the entry of the Jacobian that is furthest off, and expected (finite
    differences) versus got (backward).
    """
    names = names or [f"input {i}" for i in range(len(inputs))]
    inputs = [x.detach().double() for x in inputs]

    # the student's backward must give a gradient for every input
    with naming_errors():
        out0, grads, _ = student.vjp(fn, inputs, wrt=range(len(inputs)), _what=f"backward through {what}")
    out0 = expect_tensor(out0, what)
    if out0.is_floating_point() and out0.dtype != torch.float64:
        raise Failure(f"{what} returned {str(out0.dtype).replace('torch.', '')} for float64 input, so its "
                      "gradient cannot be checked",
                      "Keep the input's dtype: make new tensors with `dtype=x.dtype` or the `*_like` functions, "
                      "and don't call .float()/.double() on the result.")
    shown = "; ".join(describe(nm, x) for nm, x in zip(names, inputs))
    if expected is not None:  # None: the student edition's check, which holds no answer
        expected = expected.detach().cpu().double()
        try:
            assert_close(out0, expected, what=what, inputs=shown, dtype=torch.float64,
                         rtol=1e-7, atol=1e-7 * max(1.0, expected.abs().max().item() if expected.numel() else 1.0))
        except Failure as f:
            raise Failure(f.message + "\n  (the gradient is checked only for a right forward)", FORWARD_FIRST) from None
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

    # torch's fast gradcheck runs backward with a vector v, with v again (is backward reentrant?), then
    # with zeros twice (the second after a new forward): one request runs the student's backward for each
    # of them, on one forward of the same inputs; a call that differs gets a request of its own.
    # Its forward on the inputs themselves (twice) is the output the first request gave.
    ahead = []  # [inputs, grad_output, input grads] answered ahead of the call
    same = lambda a, b: a.shape == b.shape and a.dtype == b.dtype and torch.equal(a, b)

    class Proxy(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *xs):
            ctx.save_for_backward(*xs)
            if len(xs) == len(inputs) and all(same(x, y) for x, y in zip(xs, inputs)):
                return out0.detach().clone().double()
            return expect_tensor(student.call(fn, *xs, _what=what, _grad="no_grad"), what).double()

        @staticmethod
        def backward(ctx, g):
            xs = ctx.saved_tensors
            k = next((k for k, (ys, h, _) in enumerate(ahead) if same(h, g) and len(ys) == len(xs)
                      and all(same(x, y) for x, y in zip(xs, ys))), None)
            if k is None:
                vectors = [g, g, torch.zeros_like(g), torch.zeros_like(g)]
                _, every = student.vjps(fn, xs, vectors, wrt=range(len(xs)), _what=f"backward through {what}")
                ahead[:] = [[[x.detach().clone() for x in xs], v, gs] for v, gs in zip(vectors, every)]
                k = 0
            gs = ahead.pop(k)[2]
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
