"""Checks from a short description: a function exercise's standard tests, declared in a few lines.

A suite describes the exercise once, as data, and ``declare`` adds the tests to the suite module::

    LAYER_NORM = Checks(
        fn="layer_norm", reference=reference.layer_norm,
        inputs=lambda rng, shape, dtype, device: ([randn(rng, shape, dtype, device), ...], "normal values"),
        shapes={"2d": (8, 16), "3d": (4, 5, 6)}, mistakes=[(UNBIASED, lambda x, *rest: ...), ...],
        properties=[rows_sum_to_one], gradients=True, devices=True, unchanged=True,
        points={"matches_reference": 6, "gradcheck": 2, "follows_input_device": 1, "input_not_modified": 1})
    declare(globals(), LAYER_NORM)

The tests are those a hand-written suite has (tests/verdicts/test_declared.py holds them to it):

* ``test_matches_reference``: the student's result against the reference's on the inputs of every
  shape × dtype (and, with ``devices``, on every device); a wrong result is named by the misconception
  catalogue (``mistakes``, through name_bug), else by the first property it breaks, else by
  ``fallback``, else by ``hint_nonfinite`` (a result with nan or inf), else by ``hint``;
* ``test_<name>`` for each ``Case``: the same comparison on inputs made to expose a mistake (fixed
  data: ``one_tensor``; normal values of a given scale: ``normal_values``, grader.verdicts.inputs);
* ``test_<name>`` for each property that has points: the property alone, on the same inputs;
* ``test_input_not_modified`` (``unchanged``), ``test_gradcheck`` (``gradients``: torch's gradcheck
  in float64 through the student's code, gated on the forward being right; ``gradient_forward``
  compares the forward first, as the tests above do), and ``test_follows_input_device``
  (``devices``: the meta device stands in for a GPU), each on one input: ``inputs_of[name]`` (default
  ``inputs``) at ``sizes[name]`` (default the first shape).

``rows=True`` is the comparison of a function along the last dimension of its one tensor (softmax,
log_softmax): grader.verdicts.rowwise.check_rows, against the reference computed in float64, within
the tolerance at the input's magnitude, a failure named also by the shape a bare .squeeze() gives and
by probes that re-run the student's code on the same rows (2-D, other batch sizes); the visible test
makes no probe call, so that its reproducer's call, the student's last, is its own input.

A call with keyword arguments, conv2d(x, weight, bias, stride=2, padding=1): ``inputs`` (and a
``Case``'s) returns ``(arguments, {keyword: value}, how)`` in place of ``(arguments, how)``, and
every function of the declaration that takes the arguments (``reference``, ``mistakes``, a
``Property``'s ``holds``, ``fallback``, ``scale``, ``describe``) takes them as the student's function does,
``(*arguments, **keywords)`` (``describe``: ``(*arguments, how, **keywords)``).  ``what``, when not
given, is computed from the call: conv2d(x, weight, bias, stride=2, padding=1).

Each test's points are ``points[name]`` (every test needs them); ``visible`` names the visible one,
declared as a ``VisibleCall`` in the module (``MATCHES_REFERENCE``) so that ``grade release`` builds
the student edition from the same description; ``edition_gradcheck`` adds the student edition's
gradient check (``GRADCHECK``, a VisibleGradcheck on inputs of its own).  A suite adds tests of its
own beside them with the same helpers; ``Checks.check`` is the comparison the declared tests make.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from grader.verdicts.checks import Failure, assert_unchanged, describe, expect_tensor, shape_str
from grader.verdicts.devices import check_follows_device
from grader.verdicts.diagnosis import (
    COMMON_ERRORS,
    ErrorHint,
    Misconception,
    call_checked,
    check_call,
    name_bug,
    same_error,
)
from grader.verdicts.gradcheck import gradcheck
from grader.verdicts.inputs import DTYPES
from grader.verdicts.rowwise import check_rows
from grader.verdicts.tolerances import FINITE_DIFFERENCES, ROUGHLY_NORMALISED, ROUNDING, magnitude
from grader.verdicts.visible import VisibleCall, VisibleGradcheck, split_inputs


@dataclass(frozen=True)
class Property:
    """What every right result has: ``holds(result, *arguments, **keywords)`` (the result in float64, of the
    expected shape) says whether it does, ``hint`` names the mistake when it does not.  A wrong result
    that no catalogued mistake explains is named by the first property it breaks; a property with
    points of its own (``points[name]``) is also a test, ``test_<name>``, described by ``description``."""

    name: str
    description: str
    holds: Callable[..., bool]
    hint: str

    def broken(self, result: torch.Tensor, args, kwargs=None) -> bool:
        try:
            return not self.holds(result, *args, **(kwargs or {}))
        except (RuntimeError, IndexError, ValueError):  # the property cannot be read off this result
            return False


def _rows_sum_to_one(y: torch.Tensor, *args, **kwargs) -> bool:
    sums = y.sum(-1)
    return ROUGHLY_NORMALISED.allows(sums, torch.ones_like(sums))


rows_sum_to_one = Property(
    "rows_sum_to_one",
    "every slice of the result along the last dimension sums to 1",
    _rows_sum_to_one,
    "Every slice along the last dimension must sum to 1: divide by its sum, .sum(dim=-1, keepdim=True).",
)


@dataclass(frozen=True)
class Case:
    """More inputs, compared with the reference in a test of their own (``test_<name>``, one case per
    dtype): inputs made to expose a mistake, as extreme values are.  ``inputs(rng, dtype, device)``
    returns (the call's arguments, how they were made), or (the arguments, {keyword: value}, how they
    were made); ``tolerance`` (default: the declaration's) and
    ``prefer`` (the misconception named first when several give the result) are the comparison's."""

    name: str
    description: str
    inputs: Callable[..., tuple]
    tolerance: Any = None
    prefer: Misconception | None = None


@dataclass(frozen=True)
class EditionGradcheck:
    """The student edition's gradient check, released from the declaration (a VisibleGradcheck,
    ``GRADCHECK`` in the suite): the gradient of the student's function against finite differences on
    float64 inputs drawn by ``inputs(rng)`` from a generator seeded with ``seed`` (the same on every
    build; no expected value leaves the instructor's side).  ``inputs`` defaults to test_gradcheck's;
    the call's arguments must all be tensors."""

    seed: int
    inputs: Callable[..., list] | None = None  # (rng) -> the call's arguments (default: test_gradcheck's)
    description: str = ""  # as the student's report says it (default: "the gradient of your fn ... matches ...")


ONE_INPUT = ("input_not_modified", "gradcheck", "follows_input_device")  # the declared tests on one input


def _on_cpu(args) -> list:
    return [a.detach().cpu() if isinstance(a, torch.Tensor) else a for a in args]


def _literal(name: str, value) -> str:
    """An argument's value as a computed ``what`` shows it: 2, (0, 2), None; a tensor or a long value by
    its name."""
    text = name if isinstance(value, torch.Tensor) else repr(value)
    return text if len(text) <= 40 else name


@dataclass(frozen=True)
class Checks:
    """A function exercise's standard checks, described (see the module's docstring)."""

    fn: str  # the student's function
    reference: Callable[..., torch.Tensor]  # (*arguments, **keywords) -> the right result, in the result's dtype
    inputs: Callable[..., tuple]  # (rng, shape, dtype, device) -> (arguments, [{keyword: value},] how made)
    shapes: dict  # {case id: shape}: what ``inputs`` gets as ``shape``
    points: dict  # {test name without test_: its points}, for every declared test
    dtypes: tuple = tuple(DTYPES)  # pytest.param(dtype, id=...) each (grader.verdicts.inputs.DTYPES)
    tolerance: Any = ROUNDING  # a preset of grader.verdicts.tolerances
    scale: Callable[..., float] | None = None  # (*arguments, **keywords) -> the magnitude the preset grows with (1)
    what: str = ""  # the call as a failure names it (default: computed from the call, fn(x, stride=2))
    describe: Callable[..., str] | None = None  # (*arguments, how, **keywords) -> the input line (default: the first)
    mistakes: Any = ()  # [(Misconception, (*arguments, **keywords) -> its result)], or (*arguments, **keywords) -> Variants
    prefer: Misconception | None = None  # the misconception named first when several give the result
    hint: str = ""  # a wrong result's hint when nothing above names the mistake
    properties: tuple = ()  # Property each: a wrong result's hint, and a test when it has points
    cases: tuple = ()  # Case each: more inputs, a comparison of their own
    fallback: Callable[..., str | None] | None = None  # (result in float64, *arguments, **keywords) -> a hint, or None
    hint_nonfinite: str = ""  # a wrong result's hint when it holds nan or inf and nothing above names it
    rows: bool = False  # fn works along the last dimension of its one tensor: compared by check_rows
    gradients: bool = False  # test_gradcheck, in float64, with respect to the floating-point tensor arguments
    gradient_shape: Any = None  # the shape gradcheck's inputs have (default: the first of ``shapes``)
    gradient_forward: bool = False  # test_gradcheck first compares the forward as the other tests do
    edition_gradcheck: EditionGradcheck | None = None  # the student edition checks the gradient too
    sizes: dict = field(default_factory=dict)  # {test of one input: the shape its inputs have}
    inputs_of: dict = field(default_factory=dict)  # {test of one input: its own ``inputs``}
    devices: bool = False  # the comparisons run on every device, and test_follows_input_device
    unchanged: bool = False  # test_input_not_modified
    visible: str | None = "matches_reference"  # the visible test (a VisibleCall): matches_reference or a Case's
    descriptions: dict = field(default_factory=dict)  # {test name: its description}, in place of the default

    # -- what the tests use (and a suite's own tests may too) --------------------------------------

    def called(self, args, kwargs=None) -> str:
        """The call as a failure names it: ``what``, or computed from the call: the arguments by their
        names (None as it is), each keyword argument with its value, conv2d(x, weight, None, stride=2)."""
        if self.what:
            return self.what
        shown = ["None" if a is None else name for name, a in zip(self.names(args), args)]
        shown += [f"{k}={_literal(k, v)}" for k, v in (kwargs or {}).items()]
        return f"{self.fn}({', '.join(shown)})"

    def names(self, args) -> list:
        """The names of the call's arguments (the reference's parameters)."""
        try:
            params = list(inspect.signature(self.reference).parameters)
        except (TypeError, ValueError):
            params = []
        return [params[i] if i < len(params) else f"argument {i}" for i in range(len(args))]

    def shown(self, args, how: str, kwargs=None) -> str:
        """The input line a failure shows (by default the first argument's, then the keyword arguments
        that are not tensors)."""
        kwargs = kwargs or {}
        if self.describe is not None:
            return self.describe(*args, how, **kwargs)
        line = describe(self.names(args)[0], args[0], how)
        rest = [f"{k}={_literal(k, v)}" for k, v in kwargs.items() if not isinstance(v, torch.Tensor)]
        return ", ".join([line, *rest])

    def variants(self, *args, **kwargs) -> list:
        """What each catalogued mistake computes on these arguments (grader.verdicts.diagnosis.Variant)."""
        if callable(self.mistakes):
            return list(self.mistakes(*args, **kwargs))
        return [bug.gives(lambda compute=compute: compute(*args, **kwargs)) for bug, compute in self.mistakes]

    @property
    def scaled(self) -> Callable[..., float] | None:
        """What the tolerance grows with: ``scale``; with ``rows``, the input's magnitude by default."""
        return self.scale or (magnitude if self.rows else None)

    def allowed(self, args, dtype: torch.dtype, tolerance=None, kwargs=None):
        scale = self.scaled
        return (tolerance or self.tolerance).at(dtype, scale(*args, **(kwargs or {})) if scale else 1.0)

    def expected(self, *args, **kwargs) -> torch.Tensor:
        """The reference's result, as the comparison takes it: with ``rows``, computed in float64."""
        if self.rows:
            args = tuple(a.detach().cpu().double() if isinstance(a, torch.Tensor) else a for a in args)
        return self.reference(*args, **kwargs)

    def named(self, result: torch.Tensor, args, kwargs=None) -> str | None:
        """The hint for a wrong result (in float64, of the right shape) that no catalogued mistake
        gives: the first property it breaks, else ``fallback``'s, else ``hint_nonfinite`` (nan or
        inf), else ``hint``."""
        kwargs = kwargs or {}
        broken = next((p for p in self.properties if p.broken(result, args, kwargs)), None)
        if broken:
            return broken.hint
        said = self.fallback(result, *args, **kwargs) if self.fallback is not None else None
        if said:
            return said
        if self.hint_nonfinite and result.is_floating_point() and not bool(torch.isfinite(result).all()):
            return self.hint_nonfinite
        return self.hint or None

    def diagnose(self, args, expected: torch.Tensor, allowed, prefer=None, kwargs=None) -> Callable:
        """The hint naming what gives ``got``: the catalogue, then ``named`` (properties, fallback, hints)."""
        kwargs = kwargs or {}

        def hint(got):
            if got is None:
                return None
            named = name_bug(got, expected, self.variants(*args, **kwargs), allowed, prefer or self.prefer)
            if named:
                return named
            if got.shape == expected.shape:
                return self.named(got.detach().cpu().double(), args, kwargs)
            return self.hint or None

        return hint

    def check(
        self,
        student,
        args,
        *made,
        device: str = "cpu",
        tolerance=None,
        prefer=None,
        probing: bool = True,
        return_args=False,
    ):
        """The student's fn(*args, **kwargs) against the reference's result, a failure explained
        (check_call; with ``rows``, check_rows, whose probes ``probing=False`` leaves out):
        ``check(student, args, how)`` or ``check(student, args, kwargs, how)``, so that
        ``check(student, *inputs(...))`` takes what an inputs function returns.  Returns what
        student.call returns (``return_args``: (its value, args and kwargs as the call left them))."""
        args, kwargs, how = split_inputs((args, *made))
        if self.rows:
            return self._check_rows(student, args, kwargs, how, device, tolerance, prefer, probing, return_args)
        here, keywords = _on_cpu(args), dict(zip(kwargs, _on_cpu(kwargs.values())))  # the reference, the
        expected = self.reference(*here, **keywords)  # catalogue and the properties work on the CPU
        dtype = args[0].dtype
        allowed = self.allowed(here, dtype, tolerance, keywords)
        errors = COMMON_ERRORS + (
            ErrorHint(re.compile(r"(?s).+"), lambda m: same_error(m.string, self.variants(*here, **keywords))),
        )
        return check_call(
            student,
            student.ref(self.fn),
            args,
            expected,
            what=self.called(args, kwargs),
            inputs=self.shown(args, how, kwargs),
            diagnose=self.diagnose(here, expected, allowed, prefer, keywords),
            dtype=dtype,
            device=device,
            tolerance=allowed,
            return_args=return_args,
            errors=errors,
            kwargs={**kwargs, "_keywords": True} if return_args else kwargs,
        )

    def _check_rows(self, student, args, kwargs, how, device, tolerance, prefer, probing, return_args):
        if len(args) != 1 or kwargs or not isinstance(args[0], torch.Tensor):
            given = len(args) + len(kwargs)
            raise ValueError(
                f"Checks(rows=True) compares a function of one tensor; {self.fn} was given {given} arguments"
            )
        got = check_rows(
            student,
            self.fn,
            self.reference,
            args[0],
            how,
            device,
            tolerance=tolerance or self.tolerance,
            bugs=lambda x: self.variants(x),
            fallback=lambda result, x: self.named(result, [x.detach().cpu()]),
            prefer=prefer or self.prefer,
            probing=probing,
            return_args=return_args,
            what=self.called(args),
            inputs=self.shown(args, how),
            scale=self.scaled,
        )
        return (*got, None) if return_args else got  # (value, args, no keyword arguments), as check's

    def inputs_for(self, test: str, rng, dtype: torch.dtype) -> tuple:
        """(the arguments, {keyword: value}, how they were made) of a declared test on one input
        (``ONE_INPUT``): its own ``inputs_of`` (default ``inputs``) at its ``sizes`` shape (default:
        gradcheck's ``gradient_shape``, else the first of ``shapes``), on the CPU."""
        first = next(iter(self.shapes.values()))
        own = self.gradient_shape if test == "gradcheck" and self.gradient_shape is not None else first
        shape = self.sizes.get(test, own)
        return split_inputs(self.inputs_of.get(test, self.inputs)(rng, shape, dtype, "cpu"))

    # -- the declared tests -----------------------------------------------------------------------

    def shape_params(self) -> list:
        return [(k, s, d) for k, s in self.shapes.items() for d in self.dtypes]

    def visible_call(self) -> VisibleCall:
        """The visible test's inputs as data, for the student edition (grader.harness.released)."""
        case = next((c for c in self.cases if c.name == self.visible), None)
        make: Callable[..., tuple] = self.inputs if case is None else case.inputs
        if case is None:
            params = tuple((f"{k}-{d.id}", {"shape": s, "dtype": d.values[0]}) for k, s, d in self.shape_params())
        else:
            params = tuple((d.id, {"dtype": d.values[0]}) for d in self.dtypes)
        return VisibleCall(
            test=f"test_{self.visible}",
            fn=self.fn,
            what=self.what or (lambda *args, **kwargs: self.called(args, kwargs)),
            inputs=make,
            expected=self.expected,
            describe=lambda *args, **kwargs: self.shown(args[:-1], args[-1], kwargs),
            params=params,
            tolerance=(case and case.tolerance) or self.tolerance,
            scale=self.scaled,
            variants=self.variants if self.mistakes else None,
            prefer=(case and case.prefer) or self.prefer,
            hint=self.hint,
            hint_nonfinite=self.hint_nonfinite,
            every_device=self.devices,
        )

    def visible_gradcheck(self) -> VisibleGradcheck:
        """The student edition's gradient check (``edition_gradcheck``) as data (grader.harness.released)."""
        spec = self.edition_gradcheck
        if spec is None:
            raise ValueError("declare: no edition_gradcheck")

        def inputs(rng) -> list:
            if spec.inputs is not None:
                return list(spec.inputs(rng))
            args, kwargs, _ = self.inputs_for("gradcheck", rng, torch.float64)
            return list(args) if not kwargs else [*args, kwargs]  # a keyword argument is refused below

        args = inputs(torch.Generator().manual_seed(spec.seed))
        if not all(isinstance(a, torch.Tensor) for a in args):
            raise ValueError(
                "declare: edition_gradcheck's inputs must all be tensors, passed by position (the student "
                "edition checks each)"
            )
        return VisibleGradcheck(
            test="test_gradcheck",
            fn=(self.fn,),
            what=self.called(args),
            names=tuple(self.names(args)),
            inputs=inputs,
            description=spec.description
            or f"the gradient of your {self.fn} (autograd through your code) matches finite differences",
            seed=spec.seed,
        )


DESCRIPTIONS = {
    "matches_reference": "{fn} matches the reference on random inputs of several shapes, in each dtype",
    "input_not_modified": "{fn} gives the right result and leaves its inputs unchanged",
    "gradcheck": "torch.autograd.gradcheck through {fn} in float64",
    "follows_input_device": "{fn} makes its result on the input's device (checked without a GPU)",
}


def _test(namespace: dict, name: str, params: Iterable[str], body: Callable, doc: str, points, marks=()) -> None:
    """Add ``test_<name>`` to the suite's ``namespace``: a function of ``params`` (the fixtures and
    parametrised arguments pytest passes by name) running ``body``, with its marks."""
    full = f"test_{name}"
    if full in namespace:
        raise ValueError(f"declare: the suite already defines {full}: the declaration would replace it")

    def test(**arguments):
        body(**arguments)

    test.__name__ = test.__qualname__ = full
    test.__module__ = namespace.get("__name__", test.__module__)
    test.__doc__ = doc
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    test.__signature__ = inspect.Signature([inspect.Parameter(p, kind) for p in params])  # type: ignore[attr-defined]
    for mark in (pytest.mark.points(points), *marks):
        test = mark(test)
    namespace[full] = test


def _compare_tests(checks: Checks, add) -> None:
    device = ("device",) if checks.devices else ()
    by_dtype = pytest.mark.parametrize("dtype", list(checks.dtypes))
    shapes = pytest.mark.parametrize("shape", list(checks.shapes.values()), ids=list(checks.shapes))

    # the visible test makes no probe calls: its reproducer replays the student's last call, its own input
    def matches(student, rng, shape, dtype, device="cpu"):
        checks.check(
            student,
            *checks.inputs(rng, shape, dtype, device),
            device=device,
            probing=checks.visible != "matches_reference",
        )

    add("matches_reference", ("student", "rng", "shape", "dtype", *device), matches, (shapes, by_dtype))
    for case in checks.cases:

        def run(student, rng, dtype, device="cpu", case=case):
            made, probing = case.inputs(rng, dtype, device), checks.visible != case.name
            checks.check(student, *made, device=device, tolerance=case.tolerance, prefer=case.prefer, probing=probing)

        add(case.name, ("student", "rng", "dtype", *device), run, (by_dtype,), case.description)
    for prop in checks.properties:
        if prop.name in checks.points:

            def holds(student, rng, shape, dtype, prop=prop):
                args, kwargs, how = split_inputs(checks.inputs(rng, shape, dtype, "cpu"))
                what = checks.called(args, kwargs)
                got = call_checked(student, student.ref(checks.fn), *args, _what=what, **kwargs)
                _property(checks, prop, got, args, kwargs, how)

            add(prop.name, ("student", "rng", "shape", "dtype"), holds, (shapes, by_dtype), prop.description)


def _property(checks: Checks, prop: Property, got, args, kwargs, how: str) -> None:
    inputs, what = checks.shown(args, how, kwargs), checks.called(args, kwargs)
    got = expect_tensor(got, what, inputs)
    expected = checks.reference(*args, **kwargs)
    if got.shape != expected.shape:
        raise Failure(
            f"{what} returned shape {shape_str(got.shape)}, expected {shape_str(expected.shape)}\n  input: {inputs}",
            "Check which dimension you reduce over and whether you keep it (keepdim=True).",
        )
    if prop.broken(got.detach().cpu().double(), args, kwargs):
        raise Failure(f"{what}: {prop.description}: not so\n  input: {inputs}", prop.hint)


def _other_tests(checks: Checks, add) -> None:
    dtype0 = checks.dtypes[0].values[0]

    def not_modified(student, rng):
        args, kwargs, how = checks.inputs_for("input_not_modified", rng, dtype0)
        copy = lambda a: a.clone() if isinstance(a, torch.Tensor) else a
        kept, kept_kwargs = [copy(a) for a in args], {k: copy(a) for k, a in kwargs.items()}
        _, after, kwargs_after = checks.check(student, args, kwargs, how, return_args=True)
        kwargs_after = kwargs_after or {}  # None: the call had no keyword arguments
        names = [*checks.names(args), *kwargs]
        for name, before, now in zip(names, [*kept, *kept_kwargs.values()], [*after, *kwargs_after.values()]):
            if isinstance(before, torch.Tensor):
                # one argument is "the input", its values the failure's evidence; of several, which one and the line
                one = len(args) + len(kwargs) == 1
                which = {} if one else {"name": name, "inputs": checks.shown(kept, how, kept_kwargs)}
                assert_unchanged(now, before, what=checks.called(args, kwargs), **which)

    def gradients(student, rng):
        args, kwargs, how = checks.inputs_for("gradcheck", rng, torch.float64)
        if checks.gradient_forward:  # the forward's failure as the comparisons explain it, then the gradient
            checks.check(student, args, kwargs, how)
        floating = lambda a: isinstance(a, torch.Tensor) and a.is_floating_point()
        wrt = [i for i, a in enumerate(args) if floating(a)] + [k for k, a in kwargs.items() if floating(a)]
        names = checks.names(args)
        gradcheck(
            student,
            student.ref(checks.fn),
            args,
            checks.called(args, kwargs),
            checks.reference(*args, **kwargs),
            names=[i if isinstance(i, str) else names[i] for i in wrt],
            tolerance=FINITE_DIFFERENCES,
            wrt=wrt,
            kwargs=kwargs,
        )

    def follows(student, rng):
        args, kwargs, _ = checks.inputs_for("follows_input_device", rng, dtype0)
        expected = checks.reference(*args, **kwargs)
        fn, what = student.ref(checks.fn), checks.called(args, kwargs)
        check_follows_device(
            student, fn, args, expected, what, checks.names(args), tolerance=checks.tolerance, kwargs=kwargs
        )

    for on, name, body in (
        (checks.unchanged, "input_not_modified", not_modified),
        (checks.gradients, "gradcheck", gradients),
        (checks.devices, "follows_input_device", follows),
    ):
        if on:
            add(name, ("student", "rng"), body)


def tests(checks: Checks) -> list:
    """The names of the tests ``checks`` declares (without test_), in the suite's order."""
    names = ["matches_reference", *(c.name for c in checks.cases)]
    names += [p.name for p in checks.properties if p.name in checks.points]
    flags = (checks.unchanged, checks.gradients, checks.devices)
    return names + [n for on, n in zip(flags, ("input_not_modified", "gradcheck", "follows_input_device")) if on]


def _takes(fn: Callable, params: str) -> str | None:
    """What is wrong with ``fn`` as a function of ``params`` (its arguments, by position), or None."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # no signature to read: the call will tell
        return None
    try:
        signature.bind(*params.split(", "))
    except TypeError:
        code = getattr(fn, "__code__", None)
        where = f" ({code.co_filename}:{code.co_firstlineno})" if code else ""
        return f"{getattr(fn, '__name__', 'it')}{where}, takes {signature}, and is called with ({params})"
    return None


def _signature_problems(checks: Checks) -> list:
    said = [("inputs", _takes(checks.inputs, "rng, shape, dtype, device"))]
    said += [(f"Case {c.name!r}: its inputs", _takes(c.inputs, "rng, dtype, device")) for c in checks.cases]
    said += [(f"inputs_of[{t!r}]", _takes(f, "rng, shape, dtype, device")) for t, f in checks.inputs_of.items()]
    if checks.edition_gradcheck is not None and checks.edition_gradcheck.inputs is not None:
        said += [("edition_gradcheck: its inputs", _takes(checks.edition_gradcheck.inputs, "rng"))]
    return [f"{what}, {problem}" for what, problem in said if problem]


def declare(namespace: dict, checks: Checks) -> None:
    """Add the tests ``checks`` describes to a suite module (``declare(globals(), CHECKS)``), each with
    its points, the visible one's ``VisibleCall`` (named after it: ``MATCHES_REFERENCE``) and, with
    ``edition_gradcheck``, the student edition's ``GRADCHECK`` (a VisibleGradcheck).
    ValueError says what does not add up: a test without points, points for no test, a visible test
    that is not declared, ``sizes`` or ``inputs_of`` for a test that is not declared on one input, an
    ``edition_gradcheck`` without ``gradients``, a name the suite has already, an inputs function that
    cannot take the arguments it is called with."""
    wrong = _signature_problems(checks)
    if wrong:
        raise ValueError("declare: " + "; ".join(wrong))
    declared = tests(checks)
    missing = [n for n in declared if n not in checks.points]
    if missing:
        raise ValueError(f"declare: give the points of {', '.join(missing)} (points={{name: P}})")
    unknown = [n for n in checks.points if n not in declared]
    if unknown:
        raise ValueError(
            f"declare: points for {', '.join(unknown)}, which is not a declared test ({', '.join(declared)})"
        )
    if checks.visible is not None and checks.visible not in ("matches_reference", *(c.name for c in checks.cases)):
        raise ValueError(f"declare: visible={checks.visible!r} is neither matches_reference nor a Case's name")
    one_input = [n for n in ONE_INPUT if n in declared]
    for option in ("sizes", "inputs_of"):
        stray = [n for n in getattr(checks, option) if n not in one_input]
        if stray:
            raise ValueError(
                f"declare: {option} for {', '.join(stray)}, which is not a declared test on one input "
                f"({', '.join(one_input) or 'none is'})"
            )
    if checks.edition_gradcheck is not None and not checks.gradients:
        raise ValueError("declare: edition_gradcheck releases test_gradcheck's check: turn it on (gradients=True)")

    def add(name, params, body, marks=(), description=None):
        doc = checks.descriptions.get(name) or description or DESCRIPTIONS[name].format(fn=checks.fn)
        marks = (*marks, pytest.mark.visible) if name == checks.visible else marks
        _test(namespace, name, params, body, doc, checks.points[name], marks)

    # the student edition's data, in this order (the release's): the visible test's, then the gradcheck's
    data: dict[str, Callable[[], Any]] = {}
    if checks.visible is not None:
        data[checks.visible.upper()] = checks.visible_call
    if checks.edition_gradcheck is not None:
        data["GRADCHECK"] = checks.visible_gradcheck
    taken = [name for name in data if name in namespace]
    if taken:
        raise ValueError(f"declare: the suite already defines {taken[0]}: the declaration would replace it")
    _compare_tests(checks, add)
    _other_tests(checks, add)
    for name, make in data.items():
        namespace[name] = make()
