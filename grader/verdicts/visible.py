"""A visible test declared as data: one source for the hidden suite's test and the student edition.

A visible test that calls one of the student's functions on inputs made the same way every time
declares them once, at the top of its suite::

    FAR_APART = VisibleCall(
        test="test_far_apart_logits", fn="softmax", what="softmax(x)",
        inputs=lambda rng, dtype, device: ([torch.tensor(ROWS, dtype=dtype, device=device)], HOW),
        expected=lambda x: reference.softmax(x.double()),
        describe=lambda x, how: describe("x", x, how), scale=magnitude,
        variants=_buggy_versions, prefer=NO_MAX, hint=..., hint_nonfinite=NO_MAX.hint)

The suite's test makes its inputs with ``FAR_APART.make(rng, dtype=..., device=...)`` (the
arguments of the student's call and how they were made); ``grade release`` reads the same
declaration and stores, for each of its ``params``, those inputs, the reference's result
(``expected``) and what each catalogued mistake (``variants``) returns there, as data
(grader.verdicts.student_check's "call" kind).  Nothing is typed twice, and only what a visible
test shows leaves the instructor's side.  The release draws random inputs (``rng``) from a
generator seeded for the exercise, so that the student edition's inputs are the same on every build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from grader.verdicts.tolerances import ROUNDING

DTYPE_PARAMS = (("float32", {"dtype": torch.float32}), ("float64", {"dtype": torch.float64}))
"""One case per float dtype, with the ids of grader.verdicts.inputs.DTYPES."""


@dataclass(frozen=True)
class VisibleCall:
    """A visible test that calls the student's ``fn`` on inputs made by ``inputs`` and compares
    the result with the reference's (see the module's docstring)."""

    test: str  # the hidden suite's test function
    fn: str  # the student's function it calls
    what: str  # the call, as a failure names it: softmax(x)
    inputs: Callable[..., tuple]  # (rng, **params, device=...) -> (the call's arguments, how they were made)
    expected: Callable[..., Any]  # (*arguments) -> the reference's result
    describe: Callable[..., str]  # (*arguments, how) -> the inputs, as a failure shows them
    params: tuple = DTYPE_PARAMS  # ((case id, {parameter: value}), ...) in the test's order
    tolerance: Any = ROUNDING  # a preset of grader.verdicts.tolerances
    scale: Callable[..., float] | None = None  # (*arguments) -> the magnitude the preset grows with (1)
    variants: Callable[..., Any] | None = None  # (*arguments) -> the catalogue's Variants there
    prefer: Any = None  # the Misconception named first when several fit
    hint: str = ""  # a failure's hint when no catalogued mistake is the result
    hint_nonfinite: str = ""  # ... when the result holds nan or inf
    every_device: bool = True  # the test takes ``device``: on the CPU, then every other device

    def make(self, rng=None, device: str = "cpu", **params) -> tuple:
        """(the arguments of the student's call, how they were made), as the test makes them."""
        return self.inputs(rng, device=device, **params)

    def allowed(self, args, dtype: torch.dtype):
        """The comparison's tolerance on these arguments (the preset at ``dtype`` and their scale)."""
        return self.tolerance.at(dtype, self.scale(*args) if self.scale else 1.0)


def on_one_tensor(test: str, fn: str, rows: list, how: str, reference: Callable, **options) -> VisibleCall:
    """A visible test of ``fn(x)`` on one fixed tensor (``rows``, in each float dtype, described as
    ``how``), compared with ``reference`` computed in float64, within ``ROUNDING`` at the rows' magnitude;
    ``options`` are VisibleCall's (variants, prefer, hint, hint_nonfinite, ...)."""
    from grader.verdicts.checks import describe
    from grader.verdicts.tolerances import magnitude

    return VisibleCall(
        test=test,
        fn=fn,
        what=f"{fn}(x)",
        inputs=lambda rng, dtype, device: ([torch.tensor(rows, dtype=dtype, device=device)], how),
        expected=lambda x: reference(x.double()),
        describe=lambda x, how: describe("x", x, how),
        scale=magnitude,
        **options,
    )


@dataclass(frozen=True)
class VisibleStep:
    """A visible test of one ``step()`` of the student's optimizer class ``cls``: torch's
    nn.Sequential of nn.Linear (``layers``, their (in, out) sizes) given the parameters and gradients
    that ``inputs`` makes, the optimizer built on model.parameters() with ``options``, and every
    parameter after the step compared with the reference's (``expected``).  ``grade release`` stores
    those, and what each catalogued mistake (``variants``) makes of each parameter, as data
    (grader.verdicts.student_check's "step" kind)."""

    test: str  # the hidden suite's test function
    cls: str  # the student's optimizer class
    what: str  # its construction, as a failure names it: Adam(model.parameters(), lr=0.1)
    layers: tuple  # ((in, out), ...): the nn.Linear layers of the nn.Sequential
    options: dict  # the keyword arguments of the construction
    inputs: Callable[..., tuple]  # (rng, **params) -> ({name: parameter}, {name: gradient}, what the inputs are)
    expected: Callable[..., dict]  # (parameters, gradients) -> {name: the reference's parameter after the step}
    params: tuple = (("", {}),)  # ((case id, {parameter: value}), ...) in the test's order
    tolerance: Any = ROUNDING  # a preset of grader.verdicts.tolerances
    variants: Callable[..., dict] | None = None  # (parameters, gradients) -> {name: the catalogue's Variants}
    hint: str = ""  # a failure's hint when no catalogued mistake is the result
    errors: tuple = ()  # ErrorHints naming the bug when step() raises (texts, not regexes)

    def make(self, rng=None, **params) -> tuple:
        """(parameters, gradients, what they are), as the test makes them."""
        return self.inputs(rng, **params)
