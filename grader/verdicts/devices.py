"""Following the input's device, judged on any machine.

``devices()`` lists the devices a test that takes a ``device`` argument runs on; the CPU, then
the GPU where CUDA exists.  ``check_follows_device`` tells, without a GPU, whether the student's
code makes its result on the input's device: PyTorch's data-free 'meta' device stands in for one.
"""

from __future__ import annotations

import re

import torch

from grader.transport.processes import asked_once
from grader.transport.student import StudentError
from grader.verdicts.checks import Failure, assert_close, describe, expect_tensor
from grader.verdicts.hints import DEVICE_VALUES_FIRST
from grader.verdicts.tolerances import ROUNDING
from grader.wire.codec import meta

GPU = "cuda"  # the torch device a GPU run uses (a test may point it at another device to fake one)


def devices() -> list:
    """(label, torch device) of each device a test that takes a ``device`` argument runs on, in
    order: the CPU, then the GPU where CUDA exists.  They add evidence to the same test (one
    report entry, the same points on every machine): it passes only if it passes on each."""
    return [("cpu", "cpu")] + ([("cuda", GPU)] if asked_once(torch.cuda.is_available) else [])


DEVICE_HINT = (
    "Your code makes a new tensor on the CPU whatever the input's device (as torch.zeros(shape), "
    "torch.tensor(...) or torch.empty(shape) do by default), so it breaks on a GPU. Create it on the "
    "input's device: torch.zeros_like(x), or pass device=x.device (and dtype=x.dtype)."
)
MOVED_HINT = (
    "Your code moves a tensor to a device it chooses itself (as .to('cuda' if torch.cuda.is_available() "
    "else 'cpu'), .to('cpu'), .cpu() or .cuda() do), not the input's: the result must stay on the input's "
    "device whatever devices the machine has. Drop the move, or use .to(x.device)."
)
MOVE_LINE = re.compile(r", line \d+: .*\.(to|cpu|cuda)\(")  # the line of the student's code that raised
# what torch says when CPU tensors meet the input's: on a GPU, and on the meta device
MIXED_DEVICES = re.compile(
    r"Expected all tensors to be on the same device|is not on the expected device|"
    r"found at least two devices|Cannot copy out of meta tensor"
)
META = (
    "PyTorch's data-free 'meta' device stands in for a GPU here: it tracks shapes, dtypes and devices "
    "without computing anything"
)


META_HINT = (
    "Compute with tensor operations only (torch.where, clamp, max, sum, ...): a Python decision on a "
    "tensor's values (.item(), float(t), `if t > 0:`, .tolist(), .numpy()) cannot run on a GPU-like device "
    "without copying the data back, and this test cannot judge such code."
)


def _shown(names, args) -> str:
    """The input line of the tensors among ``args``."""
    return "; ".join(describe(n, a) for n, a in zip(names, args) if isinstance(a, torch.Tensor))


def check_follows_device(
    student, fn, args, expected: torch.Tensor, what: str, names, tolerance=ROUNDING, kwargs=None
) -> None:
    """The student's fn(*args) must be right on the CPU and, given the same arguments
    on the meta device, answer on the meta device: a result on the CPU, or torch's
    mixed-devices error, means a tensor was made on the CPU whatever the input's device.
    Code that cannot run on meta tensors for another reason (a .item(), say) fails the
    test: a skip would let a submission decide that it is not judged.  The CPU result is compared
    within the preset ``tolerance`` at expected's dtype.  An argument that is not a tensor (a
    shape, an eps) is passed as it is, on both devices; so are the keyword arguments ``kwargs``, their
    tensors moved as the others."""
    kwargs = dict(kwargs or {})
    inputs = _shown([*names, *kwargs], [*args, *kwargs.values()])
    got = student.call(fn, *args, _what=what, **kwargs)
    rtol, atol = tolerance.at(expected.dtype)
    try:
        assert_close(got, expected, what=what, inputs=inputs, rtol=rtol, atol=atol)
    except Failure as f:
        raise Failure(
            f.message,
            f.hint if not isinstance(got, torch.Tensor) or got.shape != expected.shape else DEVICE_VALUES_FIRST,
        ) from None
    on_meta = [a.to("meta") if isinstance(a, torch.Tensor) else a for a in args]
    keywords_on_meta = {k: a.to("meta") if isinstance(a, torch.Tensor) else a for k, a in kwargs.items()}
    inputs = _shown([*names, *kwargs], [*on_meta, *keywords_on_meta.values()])
    try:
        got = student.call(fn, *on_meta, _what=what, **keywords_on_meta)
    except StudentError as e:
        if e.kind == "exception" and MIXED_DEVICES.search(e.message):
            moved = "Cannot copy out of meta tensor" in e.message and MOVE_LINE.search(e.message)
            raise Failure(f"{e.message}\n  input: {inputs}\n  ({META})", MOVED_HINT if moved else DEVICE_HINT) from None
        if e.kind == "exception":  # the student's code decides whether this test runs: it cannot skip it
            raise Failure(
                f"{what} could not run on the meta device, so the grader cannot tell whether it follows "
                f"the input's device: {e.message.splitlines()[0][:200]}\n  input: {inputs}\n  ({META})",
                META_HINT,
            ) from None
        raise
    got = expect_tensor(got, what, inputs)
    device = meta(got).device
    if device != "meta":
        raise Failure(
            f"{what} returned a tensor on {device}, but its input was on the meta device"
            f"\n  input: {inputs}\n  ({META})",
            DEVICE_HINT,
        )
