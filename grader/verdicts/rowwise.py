"""Checking a function that works along the last dimension, and telling what its failure depends on.

``check_rows`` compares the student's f(x) with the reference and names the bug behind a
failure: the suite's misconception catalogue first, then probes that re-run the student's code
on the same rows reshaped (as 2-D, with another batch size), then the suite's own reading of
the values.  ``probe`` also serves functions of more than one input (cross_entropy).
"""

from __future__ import annotations

import re

import torch

from grader.transport.student import StudentError
from grader.verdicts.checks import Failure, assert_close, describe, shape_str
from grader.verdicts.diagnosis import COMMON_ERRORS, ErrorHint, check_call, name_bug, same_error
from grader.verdicts.hints import ONLY_2D, hard_coded_hint
from grader.verdicts.tolerances import Tolerance, magnitude

BATCH_SIZES = (64, 100, 128, 32)  # batch sizes students hard-code (the course notes use 64)


def right_on(student, fn, args, expected: torch.Tensor, tolerance: Tolerance) -> bool:
    """Whether the student's fn(*args) gives ``expected`` (a probe: its failure is not reported)."""
    try:
        got = student.call(fn, *args, _what="a probe")
        assert_close(got, expected, what="a probe", dtype=expected.dtype, rtol=tolerance.rtol, atol=tolerance.atol)
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


def probe_rows(student, fn, reference_fn, x: torch.Tensor, tolerance: Tolerance) -> str | None:
    """probe() for a function that works along the last dimension of its one input ``x``."""
    if x.dim() == 0:
        return None
    flat = x.detach().cpu().reshape(-1, x.shape[-1])
    return probe(
        lambda rows: right_on(
            student, fn, [flat[rows].to(x.device)], reference_fn(flat[rows].double()).to(x.dtype), tolerance
        ),
        tuple(x.shape),
    )


def squeezed_hint(shape: tuple, got: tuple) -> str | None:
    """The hint for a result of the wrong shape from an input with a size-1 dimension before the last:
    the shape a bare .squeeze() gives (that dimension dropped, then broadcast back to the wrong axis)."""
    if got == shape or 1 not in shape[:-1]:
        return None
    return (
        f"Your result has shape {shape_str(got)} for an input of shape {shape_str(shape)}: a dimension of size "
        "1 was lost on the way, as a bare .squeeze() (or .squeeze() of a reduction) drops every size-1 "
        "dimension, not only the reduced one, and the row statistic then broadcast against the wrong axis. "
        "Keep the reduced dimension with keepdim=True, or squeeze/unsqueeze only dim=-1."
    )


def check_rows(
    student,
    name: str,
    reference_fn,
    x: torch.Tensor,
    how: str,
    device: str,
    *,
    tolerance,
    bugs,
    fallback,
    prefer=None,
    probing: bool = True,
    return_args: bool = False,
    what: str | None = None,
    inputs: str | None = None,
    scale=magnitude,
):
    """The student's ``name``(x), a function along the last dimension of ``x``, against
    ``reference_fn`` in float64, within the preset ``tolerance`` at x's dtype and ``scale(x)``
    (its magnitude).  A failure is named by the first that gives a hint: the catalogue ``bugs(x)``
    (name_bug), the probes (probe_rows; ``probing=False`` in a visible test, so that the student's
    last call is the test's own input) and ``fallback(got, x)``, properties of a result of the right
    shape.  ``what`` (default ``name(x)``) and ``inputs`` (default: x's shape, dtype, device and
    ``how``) are the call and the input line as a failure shows them."""
    what = what or f"{name}(x)"
    expected = reference_fn(x.detach().cpu().double())
    allowed = tolerance.at(x.dtype, scale(x))
    fn = student.ref(name)

    def diagnose(got):
        return (
            (got is not None and squeezed_hint(tuple(x.shape), tuple(got.shape)))
            or (got is not None and name_bug(got, expected, bugs(x.detach().cpu()), allowed, prefer))
            or (probing and probe_rows(student, fn, reference_fn, x, allowed))
            or (got is not None and got.shape == expected.shape and fallback(got.detach().cpu().double(), x))
            or None
        )

    # an error the student's code raised is named by the catalogue variant that raises the same one
    errors = COMMON_ERRORS + (ErrorHint(re.compile(r"(?s).+"), lambda m: same_error(m.string, bugs(x.detach().cpu()))),)
    return check_call(
        student,
        fn,
        [x],
        expected,
        what=what,
        inputs=inputs or describe("x", x, how),
        diagnose=diagnose,
        dtype=x.dtype,
        device=device,
        tolerance=allowed,
        return_args=return_args,
        errors=errors,
    )
