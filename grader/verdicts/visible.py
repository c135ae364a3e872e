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
arguments of the student's call and how they were made: ``(arguments, how)``, or ``(arguments,
{keyword: value}, how)`` for a call with keyword arguments, conv2d(x, weight, bias, stride=2),
which every function of the declaration then takes too); ``grade release`` reads the same
declaration and stores, for each of its ``params``, those inputs, the reference's result
(``expected``) and what each catalogued mistake (``variants``) returns there, as data
(grader.verdicts.student_check's "call" kind).  Nothing is typed twice, and only what a visible
test shows leaves the instructor's side.  The release draws random inputs (``rng``) from a
generator seeded for the exercise, so that the student edition's inputs are the same on every build.

The other kinds, one per kind of student check, are declared and read the same way: one
``step()`` of an optimizer (VisibleStep), a module on one input (VisibleModule), a Sequential of
torch's layers (VisibleSequential), an autograd Function's forward and backward (VisibleMatMul),
a function that returns a number (VisibleNumber), and the gradient check that needs no answer
(VisibleGradcheck, on inputs of its own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from grader.verdicts.tolerances import ROUNDING

DTYPE_PARAMS = (("float32", {"dtype": torch.float32}), ("float64", {"dtype": torch.float64}))
"""One case per float dtype, with the ids of grader.verdicts.inputs.DTYPES."""


def split_inputs(made) -> tuple:
    """(the arguments, the keyword arguments, how they were made) from what an inputs function returns:
    ``(arguments, how)``, or ``(arguments, {keyword: value}, how)`` for a call with keyword arguments."""
    if isinstance(made, (tuple, list)) and len(made) == 3 and isinstance(made[1], dict):
        args, kwargs, how = made
    elif isinstance(made, (tuple, list)) and len(made) == 2:
        (args, how), kwargs = made, {}
    else:
        raise ValueError(
            "an inputs function returns (arguments, how) or (arguments, {keyword: value}, how), "
            f"not {type(made).__name__} {str(made)[:80]}"
        )
    return list(args), dict(kwargs), how


@dataclass(frozen=True)
class VisibleCall:
    """A visible test that calls the student's ``fn`` on inputs made by ``inputs`` and compares
    the result with the reference's (see the module's docstring)."""

    test: str  # the hidden suite's test function
    fn: str  # the student's function it calls
    what: Any  # the call, as a failure names it: softmax(x); or (*arguments, **keywords) -> that text
    inputs: Callable[..., tuple]  # (rng, **params, device=...) -> (arguments, [{keyword: value},] how made)
    expected: Callable[..., Any]  # (*arguments, **keywords) -> the reference's result
    describe: Callable[..., str]  # (*arguments, how, **keywords) -> the inputs, as a failure shows them
    params: tuple = DTYPE_PARAMS  # ((case id, {parameter: value}), ...) in the test's order
    tolerance: Any = ROUNDING  # a preset of grader.verdicts.tolerances
    scale: Callable[..., float] | None = None  # (*arguments, **keywords) -> the magnitude the preset grows with (1)
    variants: Callable[..., Any] | None = None  # (*arguments, **keywords) -> the catalogue's Variants there
    prefer: Any = None  # the Misconception named first when several fit
    hint: str = ""  # a failure's hint when no catalogued mistake is the result
    hint_nonfinite: str = ""  # ... when the result holds nan or inf
    every_device: bool = True  # the test takes ``device``: on the CPU, then every other device

    def make(self, rng=None, device: str = "cpu", **params) -> tuple:
        """(the arguments of the student's call, how they were made), as the test makes them."""
        return self.inputs(rng, device=device, **params)

    def arguments(self, rng=None, device: str = "cpu", **params) -> tuple:
        """(the arguments, the keyword arguments, how they were made): ``make``'s, split (split_inputs)."""
        return split_inputs(self.make(rng, device, **params))

    def called(self, args, kwargs=None) -> str:
        """The call, as a failure names it."""
        return self.what(*args, **(kwargs or {})) if callable(self.what) else self.what

    def allowed(self, args, dtype: torch.dtype, kwargs=None):
        """The comparison's tolerance on these arguments (the preset at ``dtype`` and their scale)."""
        return self.tolerance.at(dtype, self.scale(*args, **(kwargs or {})) if self.scale else 1.0)


@dataclass(frozen=True)
class VisibleStep:
    """A visible test of one ``step()`` of the student's optimizer class ``cls``: torch's
    nn.Sequential of nn.Linear (``layers``, their (in, out) sizes) given the parameters and gradients
    that ``inputs`` makes, the optimizer built on model.parameters() with ``options``, and every
    parameter after the step compared with the reference's (``expected``).  ``grade release`` stores
    those, and what each catalogued mistake (``variants``) makes of each parameter, as data
    (grader.verdicts.student_check's "step" kind; with ``kind="sgd"`` its "sgd" kind: ``SGD(parameters,
    lr)`` on one nn.Linear, as exercise 7's visible test)."""

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
    kind: str = "step"  # or "sgd": SGD(parameters, lr) on one nn.Linear, whose parameters are named
    # without the layer's index, and what the inputs are as (the parameters' text, the gradients')

    def make(self, rng=None, **params) -> tuple:
        """(parameters, gradients, what they are), as the test makes them."""
        return self.inputs(rng, **params)


# -- a visible test whose call is given a torch.Generator ---------------------------------------


@dataclass(frozen=True)
class SeededGenerator:
    """An argument of a visible test's call: ``torch.Generator(device).manual_seed(seed)``, made
    afresh for each call that takes it (the student's, the reference's, each catalogued mistake's),
    so that each draws the same numbers from the start.  The student edition stores it as
    ``{"$generator": seed}`` (grader.verdicts.student_check.encode) and makes the generator in the
    student's worker just before the call, on the call's device.

    Fairness: a result compared with stored numbers that depend on the generator's stream (the
    mask torch.rand drew) is the same on the student's machine only where torch draws the same
    stream: on the CPU (a CUDA generator is another algorithm), from the same torch function, with
    a torch whose random functions have not changed since the release was built.  PyTorch does not
    promise that across releases ("Completely reproducible results are not guaranteed across
    PyTorch releases", its notes on randomness), and two right answers may draw differently
    (``torch.rand(shape) >= p`` and ``bernoulli_(1 - p)`` keep different elements).  So prefer
    checks that hold for every draw: VisibleDraw's ``kept_only`` and ``hint_generator``.  A stored
    comparison that does depend on the stream says, when it fails on another torch, which torch
    computed the expected values."""

    seed: int

    def make(self, device: str = "cpu") -> torch.Generator:
        return torch.Generator(device=device).manual_seed(self.seed)

    def __str__(self) -> str:
        return f"torch.Generator().manual_seed({self.seed})"


def with_generators(args, device: str = "cpu") -> list:
    """``args`` with each SeededGenerator replaced by a fresh torch.Generator seeded so."""
    return [a.make(device) if isinstance(a, SeededGenerator) else a for a in args]


@dataclass(frozen=True)
class VisibleDraw(VisibleCall):
    """A visible test of a call that draws random numbers from the torch.Generator it is given
    (a SeededGenerator among the arguments ``inputs`` makes).  ``grade release`` stores the seed
    (grader.verdicts.student_check's "draw" kind); the reference's result (``expected``, None for
    none) and each catalogued mistake's (``variants``) are computed with a fresh generator each.
    The student edition checks, in this order:

    * with ``hint_generator``: the result comes from the generator alone: two calls with fresh
      generators of the same seed, torch's global random numbers seeded 1 before the first and 2
      before the second, give the same result, and a generator seeded ``seed + 1`` another one
      (else that hint);
    * with ``expected``: the result against the stored one; with ``kept_only``, only where the
      result is not 0 (a random mask: ``expected`` is the result had every element been kept, and
      so are the variants), and it must keep some elements and drop some (else ``hint_mask``).
      Such a check holds for every way of drawing the mask, on every torch and device."""

    kept_only: bool = False  # compared where the result is not 0 (see above)
    hint_mask: str = ""  # kept_only: the hint when the result kept every element or none
    hint_generator: str = ""  # the hint when the result changes with torch's global random numbers


def seeded_generator(args) -> SeededGenerator:
    """The SeededGenerator among a call's arguments."""
    found = [a for a in args if isinstance(a, SeededGenerator)]
    if len(found) != 1:
        raise ValueError(f"a VisibleDraw's call takes one SeededGenerator among its arguments, not {len(found)}")
    return found[0]


def _describe(name: str, x, how: str) -> str:
    from grader.verdicts.checks import describe

    return describe(name, x, how)


@dataclass(frozen=True)
class VisibleModule:
    """A visible test of the student's nn.Module class ``cls``: ``cls(*args)``, given the parameter
    values ``state`` (in place), called on the input that ``inputs`` makes, and compared with the
    reference's result (``expected``).  ``grade release`` stores those (grader.verdicts.student_check's
    "module" kind), and what each catalogued mistake (``variants``) returns there."""

    test: str  # the hidden suite's test function
    cls: str  # the student's class
    args: tuple  # its construction's arguments: Linear(3, 2)
    name: str  # the input's name in a failure: X
    inputs: Callable[..., tuple]  # (rng, **params) -> (the input, how it was made)
    expected: Callable[..., Any]  # (input) -> the reference's result
    state: dict = field(default_factory=dict)  # {parameter: value} given to the module before the call
    params: tuple = (("", {}),)  # ((case id, {parameter: value}), ...) in the test's order
    tolerance: Any = ROUNDING  # a preset of grader.verdicts.tolerances
    scale: Callable[..., float] | None = None  # (input) -> the magnitude the preset grows with (1)
    forbidden: tuple = ()  # torch's classes the exercise forbids (also as a base class)
    forbidden_hint: str = ""  # ... and the hint when the student's class is one
    shape_hint: str = ""  # a failure's hint when a parameter of ``state`` has another shape
    hint: str = ""  # a failure's hint when no catalogued mistake is the result
    variants: Callable[..., Any] | None = None  # (input) -> the catalogue's Variants there
    verdict: str = ""  # the name of the verdict shared with the hidden suite (student_check.VERDICTS)
    unchanged: bool = False  # the call must leave its input as it was
    inplace_hint: str = ""  # a failure's hint when the call changed its input

    @property
    def what(self) -> str:
        """The construction, as a failure names it: Linear(3, 2)."""
        return f"{self.cls}({', '.join(map(str, self.args))})"

    def make(self, rng=None, **params) -> tuple:
        """(the input, how it was made), as the test makes them."""
        return self.inputs(rng, **params)

    def describe(self, x, how: str) -> str:
        """The input, as a failure shows it."""
        return _describe(self.name, x, how)


@dataclass(frozen=True)
class VisibleSequential:
    """A visible test of the student's Sequential of torch's own layers: ``layers`` are
    ((class, arguments, {parameter: value} or None), ...), the result on the input that ``inputs``
    makes compared with the reference's (``expected``) (grader.verdicts.student_check's "sequential"
    kind)."""

    test: str  # the hidden suite's test function
    layers: tuple  # (("Linear", (2, 2), {"weight": [[...]], "bias": [...]}), ("ReLU", (), None), ...)
    inputs: Callable[..., tuple]  # (rng) -> (the input X, how it was made)
    expected: Callable[..., Any]  # (X) -> the reference's result
    tolerance: Any = ROUNDING  # a preset of grader.verdicts.tolerances
    scale: float = 1.0  # the magnitude the preset grows with
    forbidden: tuple = ()  # torch's classes the exercise forbids (also as a base class)
    forbidden_hint: str = ""  # ... and the hint when the student's class is one
    hint: str = ""  # a failure's hint

    @staticmethod
    def label(cls: str, args: tuple) -> str:
        """One layer, as a failure names it: nn.Linear(2, 2)."""
        return f"nn.{cls}({', '.join(map(str, args))})"

    @property
    def what(self) -> str:
        """The construction, as a failure names it: Sequential(nn.Linear(2, 2), nn.ReLU())."""
        return f"Sequential({', '.join(self.label(cls, args) for cls, args, _state in self.layers)})"

    def make(self, rng=None) -> tuple:
        """(X, how it was made), as the test makes them."""
        return self.inputs(rng)


@dataclass(frozen=True)
class VisibleMatMul:
    """A visible test of the student's autograd Function: forward on (X, Y) and backward for the
    gradient G that ``inputs`` makes, the result and both gradients compared with the reference's
    (``expected``) (grader.verdicts.student_check's "matmul" kind)."""

    test: str  # the hidden suite's test function
    what: str  # the forward call, as a failure names it: MatMul.apply(X, Y)
    backward_what: str  # ... and the backward: backward through MatMul.apply(X, Y)
    inputs: Callable[..., tuple]  # (rng) -> ((X, Y, G), how each was made)
    expected: Callable[..., tuple]  # (X, Y, G) -> (the result, [the gradient for X, for Y]) in float64
    scales: Callable[..., tuple]  # (X, Y, G) -> the magnitudes each gradient's tolerance grows with
    describe: Callable[..., str]  # (X, Y, G, how) -> the inputs, as a failure shows them
    tolerance: Any = ROUNDING  # a preset of grader.verdicts.tolerances
    hint: str = ""  # a failure's hint when the result is wrong
    grad_hint: str = ""  # ... when a gradient is

    def make(self, rng=None) -> tuple:
        """((X, Y, G), how they were made), as the test makes them."""
        return self.inputs(rng)


@dataclass(frozen=True)
class VisibleNumber:
    """A visible test of the student's ``fn`` that returns one Python number, compared with the
    reference's (``expected``) (grader.verdicts.student_check's "number" kind)."""

    test: str  # the hidden suite's test function
    fn: str  # the student's function it calls
    what: str  # the call, as a failure names it: loss_01(H, Y)
    inputs: Callable[..., tuple]  # (rng) -> (the call's arguments, what they are, as a failure shows them)
    expected: Callable[..., float]  # (*arguments) -> the reference's number
    tolerance: Any  # a fixed Tolerance of grader.verdicts.tolerances: FRACTION
    hint: str = ""  # a failure's hint

    def make(self, rng=None) -> tuple:
        """(the arguments, what they are), as the test makes them."""
        return self.inputs(rng)


@dataclass(frozen=True)
class VisibleGradcheck:
    """A check of the student edition that needs no answer: the gradient of the student's ``fn``
    (autograd through their code, or their backward) against finite differences on the float64
    inputs that ``inputs`` draws (grader.verdicts.student_check's "gradcheck" kind).  It checks what
    the hidden suite's ``test`` checks, on inputs of its own, drawn from a generator seeded with
    ``seed`` (the same on every build); it is not a visible test (no expected value is stored)."""

    test: str  # the hidden suite's test function it stands for
    fn: tuple  # the student's function: ("softmax",) or ("MatMul", "apply")
    what: str  # the call, as a failure names it: softmax(x)
    names: tuple  # the arguments' names: ("x",)
    inputs: Callable[..., list]  # (rng) -> the call's arguments
    description: str  # what the check checks, as the student's report says it
    seed: int  # the generator's seed for the inputs
    points: float = 1.0  # its share of the student check (grade release rescales to the exercise's points)

    def make(self, rng=None) -> list:
        """The call's arguments."""
        return self.inputs(rng)
