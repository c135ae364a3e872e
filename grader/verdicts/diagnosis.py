"""Naming the bug behind a failure: a suite's misconception catalogue and its error-to-hint table.

A suite declares, as data,

* its misconceptions: ``NO_MAX = Misconception("no max", "exp() overflowed ...")``, and a catalogue,
  a function of the test's input that yields what each of them computes there,
  ``NO_MAX.gives(lambda: torch.exp(x) / torch.exp(x).sum(-1, keepdim=True))``;
* its error table: ``ErrorHint(pattern, hint)`` rows that turn what an exception raised by the
  student's code says into the hint that names the bug.

Only when a check fails are the variants recomputed on the test's own input (``name_bug``) or the
error matched (``hint_for_error``): a passing check costs nothing extra.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Union

import torch

from grader.transport.student import StudentError
from grader.verdicts.checks import Failure, assert_close
from grader.verdicts.hints import JOINED, concept_of, hard_coded_hint, register_concept
from grader.verdicts.tolerances import SAME_NUMBERS, Tolerance
from grader.wire.codec import meta

# -- the misconception catalogue -------------------------------------------------------------


@dataclass(frozen=True)
class Misconception:
    """A bug students make: its ``name`` (the variants of one bug share it), the hint naming it and
    showing the fix (``hint``), and the hint naming the concept only (``concept``; by default the
    hint's first clause, see grader.verdicts.hints.concept_of).  Which one a report shows is the
    course's hint level (grader.verdicts.hints.at_level)."""

    name: str
    hint: str
    concept: str | None = None

    def __post_init__(self):
        register_concept(self.hint, self.concept)

    def text(self, level: str = "fix") -> str:
        """The hint at ``level``: "fix" (concept and fix) or "concept" (the concept only)."""
        return self.hint if level == "fix" else (self.concept or concept_of(self.hint))

    def gives(self, compute: Callable[[], torch.Tensor]) -> Variant:
        """This bug's result on the test's input: ``compute()`` works in the input's dtype, so that
        overflow shows as it does in the student's code."""
        return Variant(self, compute)


@dataclass(frozen=True)
class Variant:
    misconception: Misconception
    compute: Callable[[], torch.Tensor]


def join(hints) -> str | None:
    """The hint of the one bug that explains a result, or of each candidate."""
    hints = list(dict.fromkeys(h for h in hints if h))
    if len(hints) <= 1:
        return hints[0] if hints else None
    return JOINED + " ".join(f"({i}) {h}" for i, h in enumerate(hints[:3], 1))


def name_bug(
    got: torch.Tensor,
    expected: torch.Tensor,
    variants: Iterable[Variant],
    tolerance: Tolerance,
    prefer: Misconception | str | None = None,
) -> str | None:
    """The hint of the misconception whose variant gives ``got``, or None.

    A variant that raises on this input, or is right here (within ``tolerance``, the
    comparison's own), is passed over; the first matching variant of a misconception
    gives its hint; the numbers match within ``tolerance`` loosened to at least
    ``SAME_NUMBERS``.  ``prefer`` names the bug an input is built to expose when others
    give the same numbers; otherwise every match is named (``join``).
    """
    match = tolerance.at_least(SAME_NUMBERS)
    g = got.detach().cpu().double()
    e = expected.detach().cpu().double()
    found = {}
    for v in variants:
        bug = v.misconception
        if bug.name in found:
            continue
        try:
            b = v.compute().double()
        except (RuntimeError, IndexError):  # that bug would have raised on this input
            continue
        if not tolerance.allows(b, e, nan_equal=True) and match.allows(g, b, nan_equal=True):
            found[bug.name] = bug.hint
    prefer = prefer.name if isinstance(prefer, Misconception) else prefer
    return found.get(prefer) or join(found.values())


def name_exact(got: torch.Tensor, variants: Iterable[Variant]) -> str | None:
    """The hint of the first variant whose result equals ``got`` exactly (for results that no
    rounding touches: a variant that gives exactly these numbers is the bug)."""
    g = got.detach().cpu().double()
    for v in variants:
        try:
            b = v.compute().double()
        except (RuntimeError, IndexError):
            continue
        if b.shape == g.shape and torch.equal(g, b):
            return v.misconception.hint
    return None


# -- the error-to-hint table ------------------------------------------------------------------

Pattern = Union["re.Pattern[str]", str, tuple]


@dataclass(frozen=True)
class ErrorHint:
    """A row of an error table: when an exception's message shows ``pattern``, ``hint`` names the bug.

    ``pattern``: a compiled regex (searched; its groups fill ``{0}``, ``{1}``... of a text hint),
    a text the message contains, or a tuple of texts it contains all of.  ``hint``: the text,
    or a function of the regex match (of the message, for text patterns) that returns it or None."""

    pattern: Pattern
    hint: str | Callable[..., str | None]

    def hint_for(self, message: str) -> str | None:
        if isinstance(self.pattern, re.Pattern):
            m = self.pattern.search(message)
            if not m:
                return None
            return self.hint(m) if callable(self.hint) else self.hint.format(*m.groups())
        texts = (self.pattern,) if isinstance(self.pattern, str) else self.pattern
        if not all(t in message for t in texts):
            return None
        return self.hint(message) if callable(self.hint) else self.hint


def hint_for_error(message: str, table: Iterable[ErrorHint]) -> str | None:
    """The hint of the first row of ``table`` whose pattern the message shows."""
    for row in table:
        hint = row.hint_for(message)
        if hint:
            return hint
    return None


# What an error raised by a function's code says, whatever the exercise, and the hint that names the bug.
COMMON_ERRORS = (
    ErrorHint(re.compile(r"shape '\[(\d+)[-\d, ]*\]' is invalid for input of size"), hard_coded_hint("{0}")),
    ErrorHint(
        re.compile(r"'torch\.return_types\.(max|min)'"),
        "x.{0}(dim=...) returns a pair (values, indices): take .values, as in x.{0}(dim=-1, keepdim=True)"
        ".values, or use x.a{0}(dim=-1, keepdim=True).",
    ),
    ErrorHint(
        re.compile(r"expected a tensor output, got (\w+)"),
        "Return a torch.Tensor, not {0}: no .numpy(), .tolist() or .item() at the end, and don't forget the return.",
    ),
)


@contextmanager
def naming_errors(diagnose=None, errors: Iterable[ErrorHint] = COMMON_ERRORS):
    """When the student's code raises inside the block, ``diagnose(None)`` (or, failing that,
    the first row of ``errors`` that the message shows) may give a hint naming the bug in place
    of the generic one.  An ``assert`` of the student's own that failed keeps the hint that names it:
    what the code returns on other inputs says nothing about why it refused this one."""
    try:
        yield
    except StudentError as e:
        own_assert = e.kind == "exception" and " raised AssertionError" in e.message.split("\n")[0]
        hint = (
            ((diagnose and diagnose(None)) or hint_for_error(e.message, errors))
            if e.kind == "exception" and not own_assert
            else None
        )
        if not hint:
            raise
        raise StudentError(e.kind, e.message, hint, **e.details) from None


def call_checked(
    student,
    fn,
    *args,
    diagnose=None,
    errors: Iterable[ErrorHint] = COMMON_ERRORS,
    _return_args=False,
    _inspect=None,
    **kwargs,
):
    """student.call(fn, *args, **kwargs) (``_return_args``: student.call_and_args; ``_inspect``:
    student.call_and_inspect of that object), its errors explained by naming_errors(diagnose, errors)."""
    with naming_errors(diagnose, errors):
        if _inspect is not None:
            return student.call_and_inspect(fn, *args, _of=_inspect, **kwargs)
        return (student.call_and_args if _return_args else student.call)(fn, *args, **kwargs)


def compare(got, expected: torch.Tensor, *, diagnose, dtype: torch.dtype, device: str = "cpu", **kwargs):
    """assert_close(got, expected, ...); when the values or the shape are wrong, ``diagnose(got)``
    may give a hint naming the bug (a wrong type, dtype or device keeps assert_close's own hint)."""
    try:
        return assert_close(got, expected, dtype=dtype, device=device, **kwargs)
    except Failure as f:
        if isinstance(got, torch.Tensor) and (
            got.shape != expected.shape or (got.dtype == dtype and meta(got).device.split(":")[0] == device)
        ):
            hint = diagnose(got)
            if hint:
                raise Failure(f.message, hint) from None
        raise


def same_error(message: str, variants: Iterable[Variant]) -> str | None:
    """The hint of the first variant that raises the very error the student's code raised (its
    message is part of ``message``): the wrong variant reproduces what the student's code did."""
    for v in variants:
        try:
            v.compute()
        except (RuntimeError, IndexError) as e:
            text = str(e).strip().splitlines()[0] if str(e).strip() else ""
            if len(text) > 15 and text in message:
                return v.misconception.hint
    return None


def check_call(
    student,
    fn,
    args,
    expected: torch.Tensor,
    *,
    what: str,
    inputs: str,
    diagnose,
    dtype: torch.dtype,
    device: str,
    tolerance: Tolerance,
    return_args: bool = False,
    errors: Iterable[ErrorHint] = COMMON_ERRORS,
    kwargs=None,
):
    """The student's fn(*args, **kwargs) compared with ``expected`` within ``tolerance``; a failure is
    explained by ``diagnose`` and, for an error, the table ``errors`` (see call_checked and
    compare).  Returns what student.call returns (``return_args``: student.call_and_args)."""
    got = call_checked(
        student, fn, *args, _what=what, _return_args=return_args, diagnose=diagnose, errors=errors, **(kwargs or {})
    )
    compare(
        got[0] if return_args else got,
        expected,
        diagnose=diagnose,
        what=what,
        inputs=inputs,
        dtype=dtype,
        device=device,
        rtol=tolerance.rtol,
        atol=tolerance.atol,
    )
    return got
