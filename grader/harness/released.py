"""A course's visible tests as the student edition's data, derived on the instructor's side.

A hidden suite declares each visible test's inputs once (grader.verdicts.visible); ``grade
release`` turns each declaration into the cases that grader.verdicts.student_check replays:
the inputs the test makes, the reference's result, and what each catalogued mistake returns
there.  ``grade check-course`` derives them too, so that a course whose visible tests cannot be
released is told so before its release is built.  This module runs references: it is not part
of the student edition.
"""

from __future__ import annotations

import hashlib


def about_test(module, name):
    """(description, points) of a test function in a hidden suite (its ``points`` mark;
    ``points`` rescales them so that an exercise's student check sums to 10)."""
    from grader.harness.points import function_points

    fn = getattr(module, name)
    doc = (fn.__doc__ or "").strip().splitlines()[0].strip()
    return doc, function_points(fn) or 1.0


def variants_data(variants) -> list:
    """What each catalogued wrong variant (grader.verdicts.diagnosis.Variant) returns on a visible
    test's input, computed here, in the catalogue's order: [{name, hint, result}].  A variant that
    raises on this input is left out (the grader's name_bug passes over it too).  The student
    edition names the mistake from these numbers with the same name_bug: no reference code ships."""
    out = []
    for v in variants:
        try:
            result = v.compute()
        except (RuntimeError, IndexError):
            continue
        out.append({"name": v.misconception.name, "hint": v.misconception.hint, "result": result.detach().cpu()})
    return out


class ReleaseError(Exception):
    """A course whose student edition cannot be built: the message says which exercise and why."""


def visible_tests(module) -> list:
    """The names of a suite's test functions marked ``@pytest.mark.visible``, in suite order."""
    import inspect

    return [
        name
        for name, fn in inspect.getmembers(module, inspect.isfunction)
        if name.startswith("test_")
        and fn.__module__ == module.__name__
        and any(m.name == "visible" for m in getattr(fn, "pytestmark", None) or ())
    ]


def declared(module) -> list:
    """The suite's visible tests declared as data (grader.verdicts.visible), in the order written."""
    return [v for v in vars(module).values() if type(v) in _builders()]


def _case_rng(exercise_name: str, test: str, case_id: str):
    """A generator seeded for one case of a visible test: its inputs are the same on every build."""
    import torch

    digest = hashlib.sha256(f"{exercise_name}::{test}[{case_id}]".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:6], "big"))


def call_cases(module, decl, exercise_name: str) -> list:
    """A visible test declared as a VisibleCall, as the student edition's "call" cases: for each of
    its params, the inputs the suite's test makes (random ones drawn from a generator seeded for
    this case, the same on every build; keyword arguments, when the call has some, under "kwargs"),
    the reference's result and what each catalogued mistake returns there."""
    cases = []
    for case_id, params in decl.params:
        rng = _case_rng(exercise_name, decl.test, case_id)
        args, kwargs, how = decl.arguments(rng, device="cpu", **params)
        rtol, atol = decl.allowed(args, args[0].dtype, kwargs)
        call = {"device": "every" if decl.every_device else "cpu", "fn": decl.fn, "what": decl.called(args, kwargs)}
        call |= {"args": list(args)} | ({"kwargs": kwargs} if kwargs else {})
        cases.append(
            _head(module, decl, case_id, "call")
            | call
            | {
                "expected": decl.expected(*args, **kwargs),
                "dtype": _dtype(args[0]),
                "rtol": rtol,
                "atol": atol,
                "inputs": decl.describe(*args, how, **kwargs),
                "hint_nonfinite": decl.hint_nonfinite,
                "hint": decl.hint,
                "variants": variants_data(decl.variants(*args, **kwargs)) if decl.variants else [],
                "prefer": decl.prefer.name if decl.prefer else None,
            }
        )
    return cases


def error_data(row) -> dict:
    """An error table's row (grader.verdicts.diagnosis.ErrorHint) as data: the texts the message
    contains, and the hint (a regex or a hint made by a function is not data)."""
    pattern = (row.pattern,) if isinstance(row.pattern, str) else row.pattern
    if not (isinstance(pattern, tuple) and all(isinstance(t, str) for t in pattern) and isinstance(row.hint, str)):
        raise ValueError(f"the error hint {row!r} is not data: give the texts the message contains and a text hint")
    return {"pattern": list(pattern), "hint": row.hint}


def step_cases(module, decl, exercise_name: str) -> list:
    """A visible test declared as a VisibleStep, as the student edition's "step" cases: for each of
    its params, the layers' parameters and gradients the suite's test makes, the reference's
    parameters after one step and what each catalogued mistake makes of each of them."""
    if decl.kind == "sgd":
        return sgd_cases(module, decl, exercise_name)
    cases = []
    for case_id, params in decl.params:
        state, grads, how = decl.make(_case_rng(exercise_name, decl.test, case_id), **params)
        first = next(iter(state.values()))
        rtol, atol = decl.tolerance.at(first.dtype)
        variants = decl.variants(state, grads) if decl.variants else {}
        cases.append(
            _head(module, decl, case_id, "step")
            | {
                "device": "cpu",
                "class": decl.cls,
                "what": decl.what,
                "layers": [list(sizes) for sizes in decl.layers],
                "options": dict(decl.options),
                "state": dict(state),
                "grads": dict(grads),
                "expected": decl.expected(state, grads),
                "dtype": _dtype(first),
                "rtol": rtol,
                "atol": atol,
                "inputs": how,
                "hint": decl.hint,
                "variants": {n: variants_data(v) for n, v in variants.items()},
                "errors": [error_data(e) for e in decl.errors],
            }
        )
    return cases


def draw_cases(module, decl, exercise_name: str) -> list:
    """A visible test declared as a VisibleDraw, as the student edition's "draw" cases: call_cases'
    data, with the reference's result and each catalogued mistake's computed with a fresh
    generator of the declared seed each (so that a mistake that ignores the generator draws
    otherwise), what the student edition checks besides (grader.verdicts.visible.VisibleDraw), and
    the torch that drew the numbers: a comparison that depends on its stream is on the CPU only."""
    import dataclasses

    import torch

    from grader.verdicts.visible import seeded_generator, with_generators

    def expected(*args, **kwargs):
        seeded_generator(args)  # one, or the declaration is said to be wrong
        return None if decl.expected is None else decl.expected(*with_generators(args), **kwargs)

    cases = call_cases(module, dataclasses.replace(decl, expected=expected, variants=None), exercise_name)
    for case in cases:
        args, kwargs = case["args"], case.get("kwargs", {})
        count = len(list(decl.variants(*with_generators(args), **kwargs))) if decl.variants else 0
        # each mistake draws from a generator of its own, from the seed
        variants = [list(decl.variants(*with_generators(args), **kwargs))[i] for i in range(count)]
        stream = decl.expected is not None and not decl.kept_only
        case.update(
            kind="draw",
            variants=variants_data(variants),
            kept_only=decl.kept_only,
            hint_mask=decl.hint_mask,
            hint_generator=decl.hint_generator,
            torch=".".join(torch.__version__.split(".")[:2]),
            device="cpu" if stream else case["device"],
        )
    return cases


def _head(module, decl, case_id: str, kind: str) -> dict:
    """What every case of a visible test starts with: the test, its description and points, its kind."""
    desc, weight = about_test(module, decl.test)
    return {"function": decl.test, "id": case_id, "description": desc, "weight": weight, "visible": True, "kind": kind}


def _dtype(t) -> str:
    return str(t.dtype).removeprefix("torch.")


def module_cases(module, decl, exercise_name: str) -> list:
    """A visible test declared as a VisibleModule, as the student edition's "module" cases: for each of
    its params, the module's construction and parameters, the input the suite's test makes, the
    reference's result and what each catalogued mistake returns there."""
    import torch

    cases = []
    for case_id, params in decl.params:
        x, how = decl.make(_case_rng(exercise_name, decl.test, case_id), **params)
        expected = decl.expected(x)
        # the result has the input's dtype, but for an input of indices (an embedding's): the reference's
        typed = expected if isinstance(expected, torch.Tensor) and not x.is_floating_point() else x
        rtol, atol = decl.tolerance.at(typed.dtype, decl.scale(x) if decl.scale else 1.0)
        case = _head(module, decl, case_id, "module") | {
            "class": decl.cls,
            "ctor": list(decl.args),
            "what": decl.what,
            "forward_what": f"{decl.what}({decl.name})",
            "forbidden": list(decl.forbidden),
            "forbidden_hint": decl.forbidden_hint,
        }
        if decl.state:
            case |= {"set": dict(decl.state), "shape_hint": decl.shape_hint}
        case |= {"input": x, "expected": expected, "dtype": _dtype(typed), "rtol": rtol, "atol": atol}
        optional = {
            "unchanged": decl.unchanged,
            "variants": variants_data(decl.variants(x)) if decl.variants else None,
            "verdict": decl.verdict,
            "inplace_hint": decl.inplace_hint,
            "inputs": decl.describe(x, how),
            "hint": decl.hint,
        }
        cases.append(case | {k: v for k, v in optional.items() if v})
    return cases


def sequential_cases(module, decl, exercise_name: str) -> list:
    """A visible test declared as a VisibleSequential, as the student edition's "sequential" case: the
    layers with their parameters, the input the suite's test makes and the reference's result."""
    import torch

    X, how = decl.make(_case_rng(exercise_name, decl.test, ""))
    rtol, atol = decl.tolerance.at(X.dtype, decl.scale)
    layers = []
    for cls, args, state in decl.layers:
        layer = {"class": cls, "args": list(args), "label": decl.label(cls, args)}
        layers.append(layer | ({"state": {n: torch.tensor(v) for n, v in state.items()}} if state else {}))
    return [
        _head(module, decl, "", "sequential")
        | {
            "what": decl.what,
            "forbidden": list(decl.forbidden),
            "forbidden_hint": decl.forbidden_hint,
            "layers": layers,
            "input": X,
            "expected": decl.expected(X),
            "dtype": _dtype(X),
            "rtol": rtol,
            "atol": atol,
            "inputs": _describe("X", X, how),
            "hint": decl.hint,
        }
    ]


def sgd_cases(module, decl, exercise_name: str) -> list:
    """A visible test declared as a VisibleStep of kind "sgd", as the student edition's "sgd" case:
    one nn.Linear's parameters and gradients (named without the layer's index), the learning rate and
    the reference's parameters after one step."""

    def unindexed(named: dict) -> dict:
        return {name.split(".", 1)[-1]: value for name, value in named.items()}

    state, grads, (how_state, how_grads) = decl.make(_case_rng(exercise_name, decl.test, ""))
    ((n_in, n_out),) = decl.layers
    label = f"nn.Linear({n_in}, {n_out})"
    rtol, atol = decl.tolerance.at(next(iter(state.values())).dtype)
    return [
        _head(module, decl, "", "sgd")
        | {
            "what": decl.what,
            "lr": decl.options["lr"],
            "order": list(unindexed(state)),
            "layer": {"class": "Linear", "args": [n_in, n_out], "label": label, "state": unindexed(state)},
            "grads": unindexed(grads),
            "expected": unindexed(decl.expected(state, grads)),
            "rtol": rtol,
            "atol": atol,
            "inputs": f"{label} with {how_state}; .grad {how_grads}",
            "hint": decl.hint,
        }
    ]


def matmul_cases(module, decl, exercise_name: str) -> list:
    """A visible test declared as a VisibleMatMul, as the student edition's "matmul" case: X, Y and the
    gradient G the suite's test makes, the reference's result and both gradients, a tolerance each."""
    (X, Y, G), how = decl.make(_case_rng(exercise_name, decl.test, ""))
    out, grads = decl.expected(X, Y, G)
    tolerances = [decl.tolerance.at(X.dtype, s) for s in decl.scales(X, Y, G)]
    return [
        _head(module, decl, "", "matmul")
        | {
            "what": decl.what,
            "backward_what": decl.backward_what,
            "args": [X, Y, G],
            "expected": out,
            "grads": list(grads),
            "rtol": [t.rtol for t in tolerances],
            "atol": [t.atol for t in tolerances],
            "inputs": decl.describe(X, Y, G, how),
            "hint": decl.hint,
            "grad_hint": decl.grad_hint,
        }
    ]


def number_cases(module, decl, exercise_name: str) -> list:
    """A visible test declared as a VisibleNumber, as the student edition's "number" case: the
    arguments the suite's test makes and the reference's number."""
    args, how = decl.make(_case_rng(exercise_name, decl.test, ""))
    rtol, atol = decl.tolerance
    return [
        _head(module, decl, "", "number")
        | {
            "fn": decl.fn,
            "what": decl.what,
            "args": list(args),
            "expected": float(decl.expected(*args)),
            "rtol": rtol,
            "atol": atol,
            "inputs": how,
            "hint": decl.hint,
        }
    ]


def gradcheck_cases(module, decl, exercise_name: str) -> list:
    """A check declared as a VisibleGradcheck, as the student edition's "gradcheck" case: the float64
    inputs drawn from its seeded generator (no expected value: finite differences are the answer)."""
    import torch

    return [
        {
            "function": decl.test,
            "id": "",
            "description": decl.description,
            "weight": decl.points,
            "visible": False,
            "kind": "gradcheck",
            "fn": list(decl.fn),
            "args": list(decl.make(torch.Generator().manual_seed(decl.seed))),
            "what": decl.what,
            "names": list(decl.names),
        }
    ]


def _describe(name: str, x, how: str) -> str:
    from grader.verdicts.checks import describe

    return describe(name, x, how)


def _builders() -> dict:
    """{declaration class: what makes its cases}."""
    from grader.verdicts import visible

    return {
        visible.VisibleCall: call_cases,
        visible.VisibleDraw: draw_cases,
        visible.VisibleStep: step_cases,
        visible.VisibleModule: module_cases,
        visible.VisibleSequential: sequential_cases,
        visible.VisibleMatMul: matmul_cases,
        visible.VisibleNumber: number_cases,
        visible.VisibleGradcheck: gradcheck_cases,
    }


def declared_cases(module, exercise_name: str) -> list:
    """Every visible test of a suite, as the student edition's cases, from its declarations.
    ReleaseError says that a suite has no visible test, names a visible test that is not declared
    as data (it cannot be released), and a declaration of a test that is not marked visible (its
    inputs would leave the instructor's side)."""
    from grader.verdicts.visible import VisibleGradcheck

    decls = declared(module)
    visible = visible_tests(module)
    # a gradcheck needs no answer: it stands for a hidden test on inputs of its own
    hidden = [d.test for d in decls if d.test not in visible and not isinstance(d, VisibleGradcheck)]
    if hidden:
        raise ReleaseError(
            f"{exercise_name}: {', '.join(hidden)} is declared as a visible test's data (VisibleCall) "
            "but is not a test of the suite marked @pytest.mark.visible: a hidden test's inputs "
            "never go into the student edition"
        )
    if not visible:  # the student edition would grade nothing and fail: said here, before a student sees it
        raise ReleaseError(
            f"{exercise_name}: no test of its suite is marked @pytest.mark.visible, so the student edition "
            "would have nothing to check; mark at least one test visible and declare its inputs with "
            'VisibleCall (docs/instructors/authoring.md, "Release your course")'
        )
    missing = [t for t in visible if t not in {d.test for d in decls}]
    if missing:
        raise ReleaseError(
            f"{exercise_name}: the visible test(s) {', '.join(missing)} are not declared as data; "
            "declare each one's inputs with VisibleCall (grader.suites.common) and make the test "
            'take them from there (docs/instructors/authoring.md, "Release your course")'
        )
    cases = []
    for decl in decls:
        try:
            cases += _builders()[type(decl)](module, decl, exercise_name)
        except Exception as e:  # the author's declaration, said in one line
            raise ReleaseError(
                f"{exercise_name}: the data of the visible test {decl.test} could not be made "
                f"from its declaration: {type(e).__name__}: {e}"
            ) from e
    return cases


def course_cases(exercise) -> list:
    """The student check of an exercise of a course folder: its visible tests, from their declarations."""
    from grader.harness.points import suite_module

    return declared_cases(suite_module(exercise), exercise.name)
