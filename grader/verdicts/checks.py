"""Checks that explain themselves.

Every check either passes or raises ``Failure`` whose message says what was
checked, on which input, expected versus got, and the largest error and where;
its ``hint`` names the likely misconception.  The hidden suites use only these,
so no failure ever shows a bare assertion or a line of the suite's source.
"""

from __future__ import annotations

import math

import torch

from grader.verdicts.tolerances import ROUNDING, Tolerance, tol  # noqa: F401  (tol: for callers)
from grader.wire.codec import Handle, meta


class Failure(AssertionError):
    """A failed check. ``expected`` and ``got``, where the check knows them, are
    the expected value (a tensor in the dtype the result must have, or a Python
    number) and the reply it was compared with, as the worker's call returned it:
    a visible test's reproducer (``grader.harness.plugin``) shows the first and finds the
    call that returned the second."""

    def __init__(self, message: str, hint: str | None = None, *, expected=None, got=None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.expected = expected
        self.got = got


def shape_str(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def dtype_str(dtype) -> str:
    return str(dtype).replace("torch.", "")


def describe(name: str, t: torch.Tensor, how: str | None = None) -> str:
    """``x: shape (3, 7), float32 on cpu, randn × 5``"""
    text = f"{name}: shape {shape_str(t.shape)}, {dtype_str(t.dtype)} on {t.device.type}"
    return text + (f", {how}" if how else "")


def fmt(v) -> str:
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


_TYPE_HINTS = {
    "numpy.ndarray": "Stay in torch: return a tensor, not `.numpy()` (the grader needs the tensor's dtype, device and graph).",
    "builtins.list": "Return a tensor; build it with torch operations instead of a Python list.",
    "builtins.tuple": "Return a single tensor, not a tuple.",
    "builtins.NoneType": "Did you forget the `return` statement?",
    "builtins.float": "Return a tensor (keep the result as a tensor instead of calling .item()).",
    "builtins.int": "Return a tensor, not a Python number.",
    "builtins.generator": "Return a tensor, not a generator.",
}


def type_name(value) -> str:
    if isinstance(value, Handle):
        return value.type
    if isinstance(value, torch.Tensor):
        return meta(value).type
    t = type(value)
    return f"{t.__module__}.{t.__qualname__}"


def expect_tensor(value, what: str, inputs: str = "") -> torch.Tensor:
    """The value as a tensor, or a Failure that says what came back instead."""
    if isinstance(value, torch.Tensor):
        return value
    name = type_name(value)
    short = "None" if value is None else name.replace("builtins.", "")
    where = f"\n  input: {inputs}" if inputs else ""
    hint = _TYPE_HINTS.get(name)
    if hint is None and isinstance(value, Handle) and "Tensor" in name:
        hint = "Return a plain torch.Tensor; the grader does not accept tensor subclasses."
    raise Failure(f"{what} returned {short}, expected a torch.Tensor{where}", hint)


def expect_float(value, what: str) -> float:
    """A Python float: anything that is a float (numpy.float64 is one) or a plain int."""
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, torch.Tensor):
        raise Failure(
            f"{what} returned a tensor of shape {shape_str(value.shape)}, expected a Python float",
            "Turn a 0-dim tensor into a float with `.item()` (it also drops the graph).",
        )
    name = type_name(value).replace("builtins.", "")
    raise Failure(
        f"{what} returned {name}, expected a Python float",
        f"A {name} is not a float: turn it into one with float(...) (or .item() on a 0-dim tensor) "
        "before returning it, so that the figure can be compared and stored.",
    )


def _index(flat: int, shape) -> str:
    idx = []
    for s in reversed(shape):
        idx.append(flat % s if s else 0)
        flat //= s if s else 1
    return "[" + ", ".join(str(i) for i in reversed(idx)) + "]"


def assert_close(
    got,
    expected: torch.Tensor,
    *,
    what: str,
    inputs: str = "",
    rtol=None,
    atol=None,
    hint: str | None = None,
    dtype: torch.dtype | None = None,
    device: str | None = None,
    dtype_hint: str | None = None,
    tolerance=None,
    scale: float = 1.0,
) -> torch.Tensor:
    """Compare a result from the worker with the expected tensor.

    ``dtype`` is the dtype the result must have (default: expected's);
    ``device`` the device type it must be on (default: not checked).
    ``tolerance`` is a preset of grader.verdicts.tolerances (default ``ROUNDING``), resolved
    for that dtype and the inputs' magnitude ``scale``; ``rtol``/``atol``, where given, override it.
    """
    want_dtype = dtype or expected.dtype
    try:
        got = expect_tensor(got, what, inputs)
    except Failure as f:
        f.expected, f.got = expected.detach().to(want_dtype), got
        raise
    where = f"\n  input: {inputs}" if inputs else ""

    def failure(message: str, hint: str | None) -> Failure:
        return Failure(message, hint, expected=expected.detach().to(want_dtype), got=got)

    if tuple(got.shape) != tuple(expected.shape):
        raise failure(
            f"{what} returned shape {shape_str(got.shape)}, expected {shape_str(expected.shape)}{where}",
            hint or "Check which dimension you reduce over and whether you keep it (keepdim=True).",
        )
    if got.dtype != want_dtype:
        raise failure(
            f"{what} returned {dtype_str(got.dtype)}, expected {dtype_str(want_dtype)}{where}",
            dtype_hint
            or "Keep the input's dtype: make new tensors with `dtype=x.dtype` or the "
            "`*_like` functions, and don't call .float()/.double() on the result.",
        )
    if device is not None and meta(got).device.split(":")[0] != device:
        raise failure(
            f"{what} returned a tensor on {meta(got).device}, expected it on {device}{where}",
            "Create new tensors on the input's device: `torch.zeros_like(x)` or `device=x.device`.",
        )
    if rtol is None or atol is None:
        r, a = (tolerance or ROUNDING).at(want_dtype, scale)
        rtol = r if rtol is None else rtol
        atol = a if atol is None else atol
    g = got.detach().to(torch.float64) if not got.is_complex() else got.detach().to(torch.complex128)
    e = expected.detach().to(g.dtype).to(g.device)
    if g.numel() == 0:
        return got
    both_nan = torch.isnan(g) & torch.isnan(e)
    same_inf = torch.isinf(g) & torch.isinf(e) & (g == e)
    diff = (g - e).abs()
    allowed = atol + rtol * e.abs()
    bad = ~((diff <= allowed) | both_nan | same_inf)
    if not bool(bad.any()):
        return got
    excess = torch.where(bad, torch.nan_to_num(diff - allowed, nan=math.inf, posinf=math.inf), torch.zeros_like(diff))
    k = int(excess.reshape(-1).argmax())
    gv, ev = g.reshape(-1)[k].item(), e.reshape(-1)[k].item()
    n_bad, n = int(bad.sum()), bad.numel()
    nonfinite = int((~torch.isfinite(g) & torch.isfinite(e)).sum())
    err = "" if math.isnan(gv) or math.isinf(gv) else f" (error {abs(gv - ev):.3g})"
    allowed_text = Tolerance(rtol, atol).text
    if g.dim() == 0:
        lines = [
            f"{what} does not match the expected result{where}",
            f"  expected {fmt(ev)}, got {fmt(gv)}{err}; allowed: {allowed_text}",
        ]
    else:
        lines = [
            f"{what} does not match the expected result{where}",
            f"  largest error at index {_index(k, g.shape)}: expected {fmt(ev)}, got {fmt(gv)}{err}",
            f"  {n_bad} of {n} entries are off (allowed: {allowed_text})",
        ]
    if nonfinite:
        lines.append(f"  {nonfinite} entries are nan or inf where the expected values are finite")
    raise failure("\n".join(lines), hint)


def check(condition: bool, message: str, hint: str | None = None) -> None:
    """A plain condition with its own explanation."""
    if not condition:
        raise Failure(message, hint)


def assert_unchanged(
    after,
    before: torch.Tensor,
    *,
    what: str,
    name: str = "the input",
    hint: str | None = None,
    inputs: str = "",
    evidence: bool = True,
) -> None:
    """``after`` (an argument as the student's call left it) must equal ``before``: same shape, same
    values.  ``inputs`` adds the input line to the message; ``evidence=False`` leaves the values out of
    the Failure (no reproducer of a visible test shows them)."""
    after = expect_tensor(after, what)
    if after.shape != before.shape or not torch.equal(after.detach(), before.detach()):
        where = f"\n  input: {inputs}" if inputs else ""
        raise Failure(
            f"{what} changed {name} in place{where}",
            hint
            or "Don't modify the input: in-place operations such as `x -= m`, `x.exp_()` or "
            "`x[x < 0] = 0` change the caller's tensor. Compute into a new tensor instead.",
            **(dict(expected=before.detach(), got=after) if evidence else {}),
        )
