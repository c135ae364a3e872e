"""The student edition's checks: the visible tests, replayed from data.

``grade release`` computes each visible test's expected values from the
reference, once, and stores them with the test's inputs as JSON
(``grader/suites/<exercise>.json`` in the student package).  This module turns
that data into pytest tests that the same engine runs (the same worker, the
same report): nothing here computes an answer; a check compares what the
student's code returns with the stored numbers, or checks what needs no answer
(the student's own backward against finite differences, shapes, dtypes,
devices, torch's own class where the exercise forbids it).

A student suite file is two lines::

    from grader.verdicts.student_check import define
    define(globals(), __file__)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from grader.transport.student import Call, Student
from grader.verdicts import relu
from grader.verdicts.checks import Failure, assert_close, expect_tensor, shape_str
from grader.verdicts.diagnosis import COMMON_ERRORS, ErrorHint, Misconception, call_checked, compare, name_bug
from grader.verdicts.gradcheck import gradcheck
from grader.verdicts.objects import assert_made_object, assert_not_torch_class
from grader.verdicts.tolerances import Tolerance
from grader.verdicts.visible import SeededGenerator, seeded_generator

DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64, "bool": torch.bool}


# -- data -----------------------------------------------------------------------------


def encode(value):
    """Tensors (and lists/dicts of them) as JSON-able data; floats keep every bit (inf and nan too)."""
    if isinstance(value, torch.Tensor):
        t = value.detach().cpu()
        return {"$tensor": str(t.dtype).removeprefix("torch."), "shape": list(t.shape), "data": t.reshape(-1).tolist()}
    if isinstance(value, SeededGenerator):
        return {"$generator": value.seed}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value


def decode(value, device: str = "cpu"):
    if isinstance(value, dict) and "$tensor" in value:
        return torch.tensor(value["data"], dtype=DTYPES[value["$tensor"]]).reshape(value["shape"]).to(device)
    if isinstance(value, dict) and "$generator" in value:
        return SeededGenerator(int(value["$generator"]))
    if isinstance(value, list):
        return [decode(v, device) for v in value]
    if isinstance(value, dict):
        return {k: decode(v, device) for k, v in value.items()}
    return value


def data_file(suite_file: str) -> Path:
    p = Path(suite_file)
    return p.with_name(p.name.removeprefix("test_").removesuffix(".py") + ".json")


# -- the checks, one per kind of visible test -------------------------------------------------


def _call(student, case, device):
    """fn(*args, **kwargs) compared with the stored expected value (softmax, log_softmax, cross_entropy;
    a call with keyword arguments stores them under "kwargs")."""
    args, kwargs = decode(case["args"], device), decode(case.get("kwargs") or {}, device)
    expected = decode(case["expected"])
    fn = student.ref(case["fn"])
    variants = stored_variants(case)
    naming = Tolerance(rtol=case["rtol"], atol=case["atol"])  # the comparison's own, as the grader's name_bug

    def diagnose(got):
        """The catalogued mistake whose stored result ``got`` is (the grader's name_bug, on the
        numbers ``grade release`` stored); else nan or inf's hint, else the formula.  When the
        student's code raised (``got`` None), the error table's hint, as in the grader."""
        if got is None:
            return None
        hint = name_bug(got, expected, variants, naming, case.get("prefer"))
        if hint:
            return hint
        if isinstance(got, torch.Tensor) and got.is_floating_point() and not bool(torch.isfinite(got).all()):
            return case.get("hint_nonfinite") or case.get("hint")
        return case.get("hint")

    got = call_checked(student, fn, *args, _what=case["what"], diagnose=diagnose, **kwargs)
    inputs = case["inputs"] if device == "cpu" else case["inputs"].replace(" on cpu", f" on {device}")
    compare(
        got,
        expected,
        diagnose=diagnose,
        what=case["what"],
        inputs=inputs,
        dtype=DTYPES[case["dtype"]],
        device=device,
        rtol=case["rtol"],
        atol=case["atol"],
    )


def stored_variants(case: dict) -> list:
    """The catalogued wrong variants of a visible test, as ``grade release`` stored them (what each
    returns on this input): grader.verdicts.diagnosis Variants that give the stored numbers."""
    out = []
    for v in case.get("variants") or ():
        result = decode(v["result"])
        out.append(Misconception(v["name"], v["hint"]).gives(lambda result=result: result))
    return out


def _not_torch(student, handle, name, forbidden, what, hint):
    assert_made_object(
        handle, what, "Subclass nn.Module, call super().__init__() first, and return nothing from __init__."
    )
    assert_not_torch_class(student, handle, name, forbidden, what, hint)


def _module(student, case, device):
    """A student's module: built, given explicit parameters, then called (Linear, ReLU)."""
    what = case["what"]
    obj = student.call(student.ref(case["class"]), *case.get("ctor", []), _what=what)
    _not_torch(student, obj, case["class"], case.get("forbidden", []), what, case.get("forbidden_hint", ""))
    for name, value in (case.get("set") or {}).items():
        value = decode(value)
        stored = expect_tensor(student.getattr(obj, name, _what=f"reading {what}.{name}"), f"{what}.{name}")
        if tuple(stored.shape) != tuple(value.shape):
            if value.dim() == 2 and tuple(stored.shape) == tuple(value.shape)[::-1]:
                value = value.T.contiguous()  # the layout is judged by a test of its own
            else:
                raise Failure(
                    f"{what}.{name} has shape {shape_str(stored.shape)}, expected {shape_str(value.shape)}",
                    case.get("shape_hint"),
                )
        student.call(obj.attr(name, "copy_"), value, _grad="no_grad", _what=f"setting {what}.{name}")
    x = decode(case["input"], device)
    call = f"{what}(x)" if "forward_what" not in case else case["forward_what"]
    if case.get("unchanged"):
        got, args = student.call_and_args(obj, x, _what=call)
        expect_tensor(got, call, case["inputs"])
        after = expect_tensor(args[0], call)
        if after.shape != x.shape or not torch.equal(after, x):
            raise Failure(f"{call} changed its input x in place\n  input: {case['inputs']}", case.get("inplace_hint"))
    else:
        got = student.call(obj, x, _what=call)
    if case.get("verdict") in VERDICTS:  # the hidden suite's own verdict, its catalogue as stored numbers
        VERDICTS[case["verdict"]](
            x,
            got,
            decode(case["expected"]),
            case["inputs"],
            lambda _x: stored_variants(case),
            device,
            rtol=case["rtol"],
            atol=case["atol"],
        )
        return
    _as_stored(got, case, call, device)


def _as_stored(got, case, what: str, device) -> None:
    """``got`` against the case's stored result, within its stored tolerance, with its hint; a result
    that a catalogued mistake gives (the case's variants) is named by its hint, as the grader's name_bug
    names it."""
    expected, variants = decode(case["expected"]), stored_variants(case)
    naming = Tolerance(rtol=case["rtol"], atol=case["atol"])
    compare(
        got,
        expected,
        diagnose=lambda g: name_bug(g, expected, variants, naming) if variants else None,
        what=what,
        inputs=case["inputs"],
        dtype=DTYPES[case["dtype"]],
        device=device,
        rtol=case["rtol"],
        atol=case["atol"],
        hint=case.get("hint"),
    )


def _torch_layers(student, specs):
    layers = []
    for spec in specs:
        handle = student.call(Student.torch(f"nn.{spec['class']}"), *spec.get("args", []), _what=spec["label"])
        if spec.get("state"):
            student.call(
                handle.attr("load_state_dict"),
                decode(spec["state"]),
                strict=False,
                _grad="no_grad",
                _what=f"setting {spec['label']}'s parameters",
            )
        layers.append(handle)
    return layers


def _sequential(student, case, device):
    """Sequential(*torch layers with explicit parameters)(X)."""
    layers = _torch_layers(student, case["layers"])
    what = case["what"]
    seq = student.call(student.ref("Sequential"), *layers, _what=what)
    _not_torch(student, seq, "Sequential", case.get("forbidden", []), what, case.get("forbidden_hint", ""))
    x = decode(case["input"], device)
    got = student.call(seq, x, _what=f"{what}(X)")
    _as_stored(got, case, f"{what}(X)", device)


def _sgd(student, case, device):
    """One step() of the student's SGD on a torch layer with explicit parameters and gradients."""
    (layer,) = _torch_layers(student, [case["layer"]])
    info = student.inspect(layer, _what=f"inspecting {case['layer']['label']}")
    handles = {name: h for name, _t, h in info.get("params", [])}
    for name, g in decode(case["grads"]).items():
        student.setattr(handles[name], "grad", g)
    what = case["what"]
    opt = student.call(student.ref("SGD"), [handles[n] for n in case["order"]], lr=case["lr"], _what=what)
    _, info = student.call_and_inspect(opt.attr("step"), _what=f"{what}.step()", _of=layer)
    got = {name: t for name, t, _h in info.get("params", [])}
    for name, expected in decode(case["expected"]).items():
        assert_close(
            got.get(name),
            expected,
            what=f"{case['layer']['label']}.{name} after {what}.step()",
            inputs=case["inputs"],
            dtype=expected.dtype,
            rtol=case["rtol"],
            atol=case["atol"],
            hint=case.get("hint"),
        )


def _step(student, case, device):
    """One step() of the student's optimizer (Adam) on torch's nn.Sequential of nn.Linear with explicit
    parameters and gradients: every parameter after it compared with the stored one, a catalogued
    mistake named from the numbers stored for each parameter."""
    label = "nn.Sequential(" + ", ".join(f"nn.Linear({i}, {o})" for i, o in case["layers"]) + ")"
    mods = [Call(Student.torch("nn.Linear"), i, o) for i, o in case["layers"]]
    model, info = student.call_and_inspect(Student.torch("nn.Sequential"), *mods, _what=label)
    student.call(model.attr("load_state_dict"), decode(case["state"]), _what=f"{label}.load_state_dict(...)")
    handles = {name: h for name, _t, h in info.get("params", [])}
    for name, g in decode(case["grads"]).items():
        student.setattr(handles[name], "grad", g)
    what = case["what"]
    opt = student.call(
        student.ref(case["class"]),
        Call(model.attr("parameters")),
        _what=what,
        **{k: tuple(v) if isinstance(v, list) else v for k, v in case["options"].items()},
    )
    errors = tuple(ErrorHint(tuple(e["pattern"]), e["hint"]) for e in case.get("errors") or ()) or COMMON_ERRORS
    _, info = call_checked(student, opt.attr("step"), _what=f"{what}.step() (step 1)", errors=errors, _inspect=model)
    got = {name: t for name, t, _h in info.get("params", [])}
    naming = Tolerance(rtol=case["rtol"], atol=case["atol"])
    for name, expected in decode(case["expected"]).items():
        variants = stored_variants({"variants": case["variants"].get(name)})
        compare(
            got.get(name),
            expected,
            what=f"parameter {name} after step 1 of {what}",
            inputs=case["inputs"],
            dtype=DTYPES[case["dtype"]],
            rtol=case["rtol"],
            atol=case["atol"],
            diagnose=lambda g, e=expected, v=variants: name_bug(g, e, v, naming) or case.get("hint"),
        )


def _with_generators(student, args, device, seed_shift=0):
    """The call's arguments with each stored generator made in the student's worker, afresh:
    torch.Generator(device).manual_seed(seed) (``seed_shift`` added to the seed)."""
    out = []
    for a in args:
        if isinstance(a, SeededGenerator):
            seed = a.seed + seed_shift
            gen = student.call(Student.torch("Generator"), device, _what=f"torch.Generator({device!r})")
            student.call(gen.attr("manual_seed"), seed, _what=f"torch.Generator({device!r}).manual_seed({seed})")
            a = gen
        out.append(a)
    return out


def _from_the_generator(student, case, args, kwargs, device):
    """The result comes from the generator alone: the same seed, the same result whatever torch's
    global random numbers are; another seed, another result."""
    seed = seeded_generator(args).seed
    fn, what = student.ref(case["fn"]), case["what"]

    def draw(global_seed, shift=0):
        call = f"torch.manual_seed({global_seed}); {what} with a generator seeded {seed + shift}"
        got = call_checked(
            student,
            fn,
            *_with_generators(student, args, device, shift),
            _what=call,
            _before=[Call(Student.torch("manual_seed"), global_seed)],
            **kwargs,
        )
        return expect_tensor(got, call, case["inputs"])

    first, again = draw(1), draw(2)
    if first.shape != again.shape or not torch.equal(first, again):
        raise Failure(
            f"{what} gave two different results from generators seeded {seed}, with torch's global random numbers "
            "seeded 1 before the first call and 2 before the second: the result did not come from the generator "
            f"alone\n  input: {case['inputs']}",
            case["hint_generator"],
        )
    if torch.equal(first, draw(1, shift=1)):
        raise Failure(
            f"{what} gave the same result from a generator seeded {seed} and from one seeded {seed + 1} (torch's "
            f"global random numbers seeded 1 before each): another seed must give another result\n"
            f"  input: {case['inputs']}",
            case["hint_generator"],
        )


def _where_kept(got, expected, variants):
    """A random mask: the expected result, and each variant's, where ``got`` kept an element (is
    not 0), 0 elsewhere."""
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return expected, variants
    keep = got.detach().cpu() != 0

    def masked(t):
        return torch.where(keep, t, torch.zeros_like(t))

    return masked(expected), [
        Misconception(v.misconception.name, v.misconception.hint).gives(lambda v=v: masked(v.compute()))
        for v in variants
    ]


def _keeps_some(got, case):
    """A random mask keeps some elements and drops some."""
    keep = got.detach().cpu() != 0
    if bool(keep.all()) or not bool(keep.any()):
        raise Failure(
            f"{case['what']} {'kept every one' if keep.all() else 'dropped every one'} of the {keep.numel()} "
            f"elements\n  input: {case['inputs']}",
            case.get("hint_mask") or None,
        )


def _draw(student, case, device):
    """fn(*args) given a torch.Generator seeded as stored (grader.verdicts.visible.VisibleDraw): the
    result comes from the generator alone, and is the stored one (where it kept an element, for a
    random mask).  A comparison with numbers that depend on torch's random stream says, when it
    fails on another torch than the one that computed them, which one that was."""
    args, kwargs = decode(case["args"], device), decode(case.get("kwargs") or {}, device)
    if case.get("hint_generator"):
        _from_the_generator(student, case, args, kwargs, device)
    if case.get("expected") is None:
        return
    fn, args = student.ref(case["fn"]), _with_generators(student, args, device)
    got = call_checked(student, fn, *args, _what=case["what"], **kwargs)
    expected, variants = decode(case["expected"]), stored_variants(case)
    if case.get("kept_only"):
        expected, variants = _where_kept(got, expected, variants)
    naming = Tolerance(rtol=case["rtol"], atol=case["atol"])

    def diagnose(g):
        return name_bug(g, expected, variants, naming, case.get("prefer")) or case.get("hint")

    try:
        compare(
            got,
            expected,
            diagnose=diagnose,
            what=case["what"],
            inputs=case["inputs"],
            dtype=DTYPES[case["dtype"]],
            device=device,
            rtol=case["rtol"],
            atol=case["atol"],
        )
    except Failure as f:
        built, here = case.get("torch"), ".".join(torch.__version__.split(".")[:2])
        if case.get("kept_only") or not built or built == here:
            raise
        note = (
            f"\n  note: the expected values were drawn with torch {built}'s random numbers, and this is torch "
            f"{here}: if its random functions draw otherwise, a right answer fails here"
        )
        raise Failure(f.message + note, f.hint, expected=f.expected, got=f.got) from None
    if case.get("kept_only"):
        _keeps_some(got, case)


def _matmul(student, case, device):
    """MatMul.apply(X, Y) and its backward for a given grad: the output and both gradients."""
    X, Y, G = decode(case["args"], device)
    out, grads, _ = student.vjp(
        student.ref("MatMul", "apply"), [X, Y], grad_output=G, wrt=(0, 1), _what=case["backward_what"]
    )
    grads = list(grads or []) + [None] * (2 - len(grads or []))
    out = expect_tensor(out, case["what"], case["inputs"])
    assert_close(
        out, decode(case["expected"]), what=case["what"], inputs=case["inputs"], dtype=X.dtype, hint=case.get("hint")
    )
    for i, name in enumerate(("X", "Y")):
        if grads[i] is None:
            raise Failure(
                f"{case['backward_what']} gave no gradient for {name}, which requires one\n  input: {case['inputs']}",
                "backward returns one gradient per input of forward.",
            )
        got = expect_tensor(grads[i], f"the gradient for {name} from {case['backward_what']}", case["inputs"])
        assert_close(
            got,
            decode(case["grads"][i]),
            what=f"the gradient for {name} from {case['backward_what']}",
            inputs=case["inputs"],
            dtype=X.dtype,
            rtol=case["rtol"][i],
            atol=case["atol"][i],
            hint=case.get("grad_hint"),
        )


def _number(student, case, device):
    """fn(*args) → a Python number equal to the stored one (loss_01)."""
    what = case["what"]
    args = decode(case["args"], device)
    got = student.call(student.ref(case["fn"]), *args, _what=what)
    expected = case["expected"]
    if isinstance(got, torch.Tensor) and got.dim() == 0 and not got.is_complex():
        got = got.item()
    elif isinstance(got, torch.Tensor):
        raise Failure(
            f"{what} returned a tensor of shape {shape_str(got.shape)}, expected a number\n  input: {case['inputs']}",
            "Reduce to one Python number with .item().",
        )
    if got is None:
        raise Failure(
            f"{what} returned None, expected a number\n  input: {case['inputs']}",
            "Did you forget the `return` statement?",
        )
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        raise Failure(f"{what} returned {type(got).__name__}, expected a number\n  input: {case['inputs']}")
    if not abs(got - expected) <= case["atol"] + case["rtol"] * abs(expected):
        raise Failure(
            f"{what} returned {got:.6g}, expected {expected:.6g}\n  input: {case['inputs']}", case.get("hint")
        )


def _gradcheck(student, case, device):
    """The student's own gradient (autograd through their code, or their backward) against finite differences."""
    fn = student.ref(*case["fn"])
    gradcheck(student, fn, decode(case["args"], device), case["what"], None, names=case.get("names"))


# an exercise's verdict shared with its hidden suite (the case's "verdict"): it names the mistake
# from the catalogue's numbers as the grader does
VERDICTS = {"relu": relu.verdict}

KINDS = {
    "call": _call,
    "module": _module,
    "sequential": _sequential,
    "sgd": _sgd,
    "step": _step,
    "draw": _draw,
    "matmul": _matmul,
    "number": _number,
    "gradcheck": _gradcheck,
}


# -- the tests ---------------------------------------------------------------------------------


def _make(name: str, cases: list):
    if cases[0].get("device") == "every":
        # takes ``device``: run on the CPU, then on every other device there is, in the same
        # test, as the hidden suite's test does (grader.harness.points.run_on_devices)
        def test(student, case, device):
            KINDS[case["kind"]](student, case, device)
    else:

        def test(student, case):
            KINDS[case["kind"]](student, case, case.get("device", "cpu"))

    test.__name__ = name
    test.__doc__ = cases[0]["description"]
    params = [pytest.param(c, id=c["id"] or "case") for c in cases]
    if len(cases) == 1 and not cases[0]["id"]:
        case = cases[0]

        def test(student):  # noqa: F811  (a test without parameters keeps its plain name)
            KINDS[case["kind"]](student, case, case.get("device", "cpu"))

        test.__name__ = name
        test.__doc__ = case["description"]
        marked = test
    else:
        marked = pytest.mark.parametrize("case", params)(test)
    marked = pytest.mark.points(cases[0]["weight"])(marked)  # the function's points (grader.harness.points)
    if cases[0].get("visible"):
        marked = pytest.mark.visible(marked)
    return marked


def define(namespace: dict, suite_file: str) -> None:
    """Define the student suite's tests in ``namespace`` from its JSON data."""
    data = json.loads(data_file(suite_file).read_text())
    by_name: dict = {}
    for case in data["tests"]:
        by_name.setdefault(case["function"], []).append(case)
    for name, cases in by_name.items():
        namespace[name] = _make(name, cases)
    namespace["STUDENT_CHECK"] = data
