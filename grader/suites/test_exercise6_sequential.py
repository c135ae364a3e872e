"""Hidden suite for exercise 6: the Sequential container.

Graded on its own: the layers are torch's (nn.Linear, nn.ReLU, nn.Tanh, ...),
built in the worker and handed to the student's Sequential as handles; the
expected output is computed here from those layers' own parameters, read back
from the worker (grader/suites/sequential_layers.py).  Any registration naming is accepted ("0.weight",
"layers.0.weight", ...): parameters are matched to the layers by identity.
"""

import re

import pytest
import torch

from grader.suites.common import (
    EXACT,
    RIGHT_ANYWAY,
    ROUNDING,
    SAME_NUMBERS,
    Failure,
    Misconception,
    VisibleSequential,
    assert_close,
    assert_not_torch_class,
    check,
    class_info,
    describe,
    dtype_str,
    randn,
)
from grader.suites.sequential_layers import Layer
from grader.suites.sequential_layers import compose as _compose
from grader.suites.sequential_layers import layers as _layers
from grader.transport.student import Handle, StudentError
from grader.verdicts.batching import call_and_refresh

REGISTER_HINT = (
    "Register the layers as submodules: `self.layers = nn.ModuleList(layers)` (or "
    "`self.add_module(str(i), layer)` for each). A plain Python list or tuple hides them from "
    "nn.Module, so .parameters() misses their weights (nothing gets trained) and .to(), .double(), "
    ".train() and .eval() skip them."
)
STAR_HINT = (
    "Write `def __init__(self, *layers):` so that the layers are passed as separate arguments, "
    "`Sequential(l1, l2, l3)`, like torch's nn.Sequential; not as one list."
)
COPY_HINT = (
    "Store the layers you were given, not copies (no copy.deepcopy): the caller's layers are the ones "
    "that must be trained, converted with .to() and switched with .eval()."
)
TORCH_SEQUENTIAL = "torch.nn.modules.container.Sequential"
TORCH_SEQUENTIAL_HINT = (
    "The exercise forbids torch's nn.Sequential, also as a base class: subclass nn.Module, "
    "register the layers with nn.ModuleList and write the loop in forward yourself."
)
MODULE_HINT = "Write `class Sequential(nn.Module):` and call `super().__init__()` first in __init__."
FORWARD_HINT = (
    "forward must feed X through the layers in the order they were given, each layer getting the "
    "previous layer's output, and return the last output: `for layer in self.layers: X = layer(X)`."
)

# the visible test's inputs, declared once: the test makes them from here, and so does the student
# edition (grade release stores them with the reference's result, as data)
SMALL_EXAMPLE: VisibleSequential = VisibleSequential(
    test="test_small_example",
    layers=(
        ("Linear", (2, 2), {"weight": [[1.0, -1.0], [2.0, 0.5]], "bias": [0.0, 1.0]}),
        ("ReLU", (), None),
        ("Linear", (2, 1), {"weight": [[1.0, -2.0]], "bias": [0.5]}),
    ),
    inputs=lambda rng: (
        torch.tensor([[1.0, 2.0], [-1.0, 0.5]]),
        "X = [[1, 2], [-1, 0.5]]; the first nn.Linear has weight "
        "[[1, -1], [2, 0.5]] and bias [0, 1], the last weight [[1, -2]] and bias [0.5]",
    ),
    expected=lambda X: _by_hand(SMALL_EXAMPLE.layers, X),
    tolerance=ROUNDING,
    scale=10.0,  # as _check_forward's
    forbidden=(TORCH_SEQUENTIAL,),
    forbidden_hint=TORCH_SEQUENTIAL_HINT,
    hint=FORWARD_HINT,
)


def _by_hand(layers, X):
    """X through declared layers ((class, arguments, parameters), ...: nn.Linear and nn.ReLU), in float64."""
    out = X.double()
    for cls, _args, state in layers:
        if cls == "ReLU":
            out = out.clamp(min=0)
        else:
            out = out @ torch.tensor(state["weight"]).double().T + torch.tensor(state["bias"]).double()
    return out


def _check_class(student) -> list:
    """Check the signature (*layers) before building; return the class's bases."""
    info = class_info(student, "Sequential")
    sig = info.get("signature")
    if sig is not None and not re.search(r"(^\(|,\s*)\*[A-Za-z_]", sig):
        raise Failure(f"Sequential{sig} does not take the layers as separate arguments (*layers)", STAR_HINT)
    return info.get("bases") or []


def _check_own(student, seq, what, bases):
    assert_not_torch_class(student, seq, "Sequential", TORCH_SEQUENTIAL, what, bases=bases, hint=TORCH_SEQUENTIAL_HINT)


def _build(student, specs=None, layers=None):
    """Sequential(*layers) in the worker → (handle, description, [Layer, ...])."""
    bases = _check_class(student)
    layers = layers if layers is not None else _layers(student, specs)
    what = f"Sequential({', '.join(layer.label for layer in layers)})"
    seq = student.call(student.ref("Sequential"), *[layer.handle for layer in layers], _what=what)
    check(isinstance(seq, Handle) and "Tensor" not in seq.type, f"{what} did not make a container object", MODULE_HINT)
    _check_own(student, seq, what, bases)
    return seq, what, layers


# The likely bugs in forward, recognised from the output a submission gives.
REVERSED = Misconception(
    "reversed",
    (
        "The layers are applied in reverse order: apply them in the order they were given (the first layer "
        "passed to Sequential sees X first)."
    ),
)
LAST_ON_INPUT = Misconception(
    "last on X",
    (
        "Only the last layer's output on the original X comes back: each layer must get the PREVIOUS layer's "
        "output, so reassign it in the loop: `X = layer(X)` (not `out = layer(X)`)."
    ),
)
FIRST_ONLY = Misconception(
    "first only",
    ("Only the first layer was applied: loop over all the layers and return after the loop, not inside it."),
)
LAST_SKIPPED = Misconception("last skipped", "The last layer was skipped: apply every layer (check the loop's range).")
UNCHANGED = Misconception(
    "unchanged", "The input came back unchanged: forward must apply the layers and return their output."
)
REUSED = Misconception(
    "reused",
    (
        "A layer passed twice ran only once: self.children() (like .modules() and .named_children()) lists "
        "each module OBJECT once, so a layer that appears again in the sequence is skipped. Keep the "
        "sequence itself, `self.layers = nn.ModuleList(layers)`, and loop over it: "
        "`for layer in self.layers: X = layer(X)`."
    ),
)


def _buggy_compositions(layers, x):
    """What each bug computes on x, in the order in which they are tried."""
    unique = list({id(layer): layer for layer in layers}.values())
    if len(unique) < len(layers):  # a layer object passed more than once
        yield REUSED.gives(lambda: _compose(unique, x))
    yield REVERSED.gives(lambda: _compose(list(reversed(layers)), x))
    yield LAST_ON_INPUT.gives(lambda: layers[-1](x))
    yield FIRST_ONLY.gives(lambda: layers[0](x))
    yield LAST_SKIPPED.gives(lambda: _compose(layers[:-1], x))
    yield UNCHANGED.gives(lambda: x)


def _diagnose(got, layers, X) -> str:
    """The hint of the first bug whose composition gives ``got`` (one that is right on X is passed over)."""
    if not isinstance(got, torch.Tensor):
        return FORWARD_HINT
    x = X.double()
    expected = _compose(layers, x)
    g = got.detach().double().cpu()
    for variant in _buggy_compositions(layers, x):
        try:
            cand = variant.compute()
        except RuntimeError:
            continue
        if not RIGHT_ANYWAY.allows(cand, expected) and SAME_NUMBERS.allows(g, cand):
            return variant.misconception.hint
    return FORWARD_HINT


PROBE = [("Linear", 4, 4), ("Tanh",), ("Linear", 4, 4)]  # every layer accepts any layer's output


def _probe(student):
    """When forward raised: run it on PROBE, where every wrong composition also runs, and return
    (hint naming the composition its output matches, the probe's description), or None."""
    try:
        seq, what, layers = _build(student, PROBE)
        X = randn(torch.Generator().manual_seed(0), (3, 4))
        hint = _diagnose(student.call(seq, X, _what=f"{what}(X)"), layers, X)
    except (StudentError, Failure):
        return None
    return None if hint == FORWARD_HINT else (hint, what)


def _call_forward(student, seq, what, X):
    """seq(X) in the worker; an exception raised there is explained by _probe when it can be."""
    try:
        return student.call(seq, X, _what=f"{what}(X)")
    except StudentError as e:
        found = _probe(student) if e.kind == "exception" else None
        if found is None:
            raise
        hint, probe = found
        raise Failure(
            f"{e.message}\n  tried with layers that fit together in any order: {probe}(X) runs, and its "
            "output is what the mistake named below gives",
            hint,
        ) from None


def _check_forward(student, seq, what, layers, X, how, device=None, *, tolerance):
    """seq(X) against the layers composed here, within ``tolerance`` at the magnitude 10 (outputs of
    layers with weights of any scale)."""
    got = _call_forward(student, seq, what, X)
    expected = _compose(layers, X.double().cpu())
    hint = _diagnose(got, layers, X.cpu())
    if hint == REUSED.hint:
        try:
            hint = _reused_hint(student, seq, what)
        except StudentError:
            pass
    return assert_close(
        got,
        expected,
        what=f"{what}(X)",
        inputs=describe("X", X, how),
        dtype=X.dtype,
        device=device,
        tolerance=tolerance,
        scale=10.0,
        hint=hint,
    )


REUSED_IN_MAPPING = (
    "A layer passed twice ran only once: your Sequential keeps its layers in a {kind} "
    "(`{what}.{name}`), which holds each layer OBJECT once, so a layer that appears again in the "
    "sequence is skipped. Keep the sequence itself, `self.layers = nn.ModuleList(layers)`, and "
    "loop over it: `for layer in self.layers: X = layer(X)`."
)


def _reused_hint(student, seq, what) -> str:
    """REUSED's hint, told apart by what the object holds: a dict or set attribute (keyed by the layer
    objects) drops a repeated layer just as iterating self.children() does, for another reason."""
    attrs = student.getattr(seq, "__dict__", _what=f"reading {what}.__dict__")
    for name, value in attrs.items() if isinstance(attrs, dict) else ():
        if name.startswith("_"):
            continue
        kind = value.type if isinstance(value, Handle) else type(value).__name__
        for key, word in (("dict", "dict"), ("set", "set")):
            if kind.split(".")[-1] in (key, "Ordered" + key.capitalize(), "frozen" + key):
                return REUSED_IN_MAPPING.format(kind=word, what="self", name=name)
    return REUSED.hint


def _named_params(student, seq, what) -> dict:
    """{name: handle id} of the Sequential's parameters, after checking it is an nn.Module."""
    info = student.inspect(seq, _what=f"inspecting {what}")
    check(info.get("is_module"), f"{what} is not an nn.Module (its type is {info.get('type')})", MODULE_HINT)
    return {name: h.id for name, _t, h in info.get("params", [])}


def _hiding_place(student, seq, what, n_params) -> str:
    """Where the layers are, if a plain list or tuple attribute holds them: a note for the message."""
    attrs = student.getattr(seq, "__dict__", _what=f"reading {what}.__dict__")
    for name, value in attrs.items() if isinstance(attrs, dict) else ():
        mods = [v for v in value if isinstance(v, Handle)] if isinstance(value, (list, tuple)) else []
        if mods and not name.startswith("_"):
            kind = "list" if isinstance(value, list) else "tuple"
            return (
                f"\n  {what}.{name} is a plain Python {kind} holding {len(mods)} module(s); nn.Module does not "
                f"look inside lists or tuples, so .parameters() finds {n_params} parameter(s)"
            )
    return ""


def _registration_failure(student, seq, what, layers, message) -> Failure:
    """A Failure with ``message`` and REGISTER_HINT (saying where the layers are hidden), or COPY_HINT
    when the Sequential has parameters but not its layers' own."""
    named = _named_params(student, seq, what)
    if named and not any(hid in _owner(layers) for hid in named.values()):
        return Failure(message, COPY_HINT)
    return Failure(message + _hiding_place(student, seq, what, len(named)), REGISTER_HINT)


def _owner(layers) -> dict:
    """{handle id: 'layer i (nn.X).weight'} for every parameter of the layers."""
    return {
        hid: f"layer {i} ({layer.label}).{name}"
        for i, layer in enumerate(layers)
        for name, (_t, hid) in layer.params.items()
    }


MLP = [("Linear", 5, 4), ("ReLU",), ("Linear", 4, 3)]
SHAPES = {"2d": (6, 5), "batch64": (64, 5), "single": (1, 5), "3d": (2, 3, 5), "mid1": (2, 1, 5)}


# ---------------------------------------------------------------------------
# forward


@pytest.mark.points(2)
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_forward(student, rng, shape, device):
    """Sequential(nn.Linear, nn.ReLU, nn.Linear)(X) equals applying the layers in order"""
    seq, what, layers = _build(student, MLP)
    if device != "cpu":
        call_and_refresh(student, layers, seq.attr("to"), device, _what=f"{what}.to('{device}')")
    _check_forward(
        student, seq, what, layers, randn(rng, shape, torch.float32, device), "randn", device, tolerance=ROUNDING
    )


ORDERS = {"linear_tanh": [("Linear", 4, 4), ("Tanh",)], "tanh_linear": [("Tanh",), ("Linear", 4, 4)]}


@pytest.mark.points(1)
@pytest.mark.parametrize("specs", ORDERS.values(), ids=ORDERS.keys())
def test_order_matters(student, rng, specs):
    """layers that don't commute (Linear and Tanh) are applied in the order given"""
    seq, what, layers = _build(student, specs)
    _check_forward(student, seq, what, layers, randn(rng, (5, 4), scale=2.0), "normal values × 2", tolerance=ROUNDING)


@pytest.mark.points(1)
def test_each_layer_gets_previous_output(student, rng):
    """three Linear(4, 4) layers are chained: each one gets the previous one's output"""
    seq, what, layers = _build(student, [("Linear", 4, 4)] * 3)
    _check_forward(student, seq, what, layers, randn(rng, (6, 4)), "randn", tolerance=ROUNDING)


@pytest.mark.points(0.75)
def test_layer_used_twice(student, rng):
    """a layer object passed twice, Sequential(lin, nn.Tanh(), lin), is applied at both places"""
    lin, tanh = _layers(student, [("Linear", 4, 4), ("Tanh",)])
    seq, what, layers = _build(student, layers=[lin, tanh, lin])
    what = f"Sequential(lin, {tanh.label}, lin) with lin = {lin.label}"
    _check_forward(student, seq, what, layers, randn(rng, (5, 4), scale=2.0), "normal values × 2", tolerance=ROUNDING)


@pytest.mark.points(0.5)
def test_single_layer(student, rng):
    """a Sequential of one layer behaves like that layer"""
    seq, what, layers = _build(student, [("Linear", 5, 3)])
    _check_forward(student, seq, what, layers, randn(rng, (4, 5)), "randn", tolerance=ROUNDING)


@pytest.mark.visible
@pytest.mark.points(0.5)
def test_small_example(student):
    """a small explicit example: Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)) with set weights"""
    layers = [Layer(student, (cls, *args)) for cls, args, _state in SMALL_EXAMPLE.layers]
    for layer, (_cls, _args, state) in zip(layers, SMALL_EXAMPLE.layers):
        if state:
            layer.set(student, **state)
    seq, what, layers = _build(student, layers=layers)
    X, how = SMALL_EXAMPLE.make()
    _check_forward(student, seq, what, layers, X, how, tolerance=SMALL_EXAMPLE.tolerance)


@pytest.mark.points(0.25)
def test_no_layers(student, rng):
    """a Sequential of no layers returns its input unchanged"""
    seq, what, layers = _build(student, [])
    X = randn(rng, (3, 4))
    got = student.call(seq, X, _what=f"{what}(X)")
    assert_close(
        got,
        X,
        what=f"{what}(X)",
        inputs=describe("X", X, "randn"),
        tolerance=EXACT,
        hint="With no layers the loop does nothing and forward returns X itself.",
    )


@pytest.mark.points(0.5)
def test_nested(student, rng):
    """a Sequential can hold another Sequential; all four parameters are found through both"""
    inner, inner_what, inner_layers = _build(student, [("Linear", 5, 4), ("ReLU",)])
    (last,) = _layers(student, [("Linear", 4, 3)])
    seq = student.call(student.ref("Sequential"), inner, last.handle, _what=f"Sequential({inner_what}, {last.label})")
    what = f"Sequential({inner_what}, {last.label})"
    layers = inner_layers + [last]
    _check_forward(student, seq, what, layers, randn(rng, (6, 5)), "randn", tolerance=ROUNDING)
    found = set(_named_params(student, seq, what).values())
    missing = [name for hid, name in _owner(layers).items() if hid not in found]
    if missing:
        raise _registration_failure(
            student, seq, what, layers, f"{what}: its parameters do not include {', '.join(missing)}"
        )


# ---------------------------------------------------------------------------
# registration


@pytest.mark.points(1)
def test_parameters_registered(student, rng):
    """the Sequential's parameters are exactly the four parameter tensors of its layers"""
    seq, what, layers = _build(student, MLP)
    _check_forward(student, seq, what, layers, randn(rng, (6, 5)), "randn", tolerance=ROUNDING)
    named = _named_params(student, seq, what)
    owner = _owner(layers)
    if not named:
        raise _registration_failure(
            student,
            seq,
            what,
            layers,
            f"{what} has no parameters at all; expected the 4 of its layers ({', '.join(owner.values())})",
        )
    foreign = [name for name, hid in named.items() if hid not in owner]
    check(
        not foreign,
        f"{what} has parameters that are not its layers' own: {', '.join(foreign)}",
        COPY_HINT + " Don't create parameters of your own either.",
    )
    missing = [name for hid, name in owner.items() if hid not in named.values()]
    if missing:
        raise _registration_failure(
            student, seq, what, layers, f"{what}: its parameters do not include {', '.join(missing)}"
        )
    check(
        len(named) == len(owner),
        f"{what} lists {len(named)} parameters, expected {len(owner)} (each layer's weight and bias once)",
        "Register each layer once.",
    )


@pytest.mark.points(1)
@pytest.mark.parametrize("how", ["to", "double"], ids=["to(float64)", "double()"])
def test_converts_to_float64(student, rng, how):
    """converting the Sequential to float64 converts every layer; forward then works on float64 inputs"""
    seq, what, layers = _build(student, MLP)
    if how == "to":
        label = ".to(torch.float64)"
        call_and_refresh(student, layers, seq.attr("to"), torch.float64, _what=f"{what}{label}")
    else:
        label = ".double()"
        call_and_refresh(student, layers, seq.attr("double"), _what=f"{what}{label}")
    for i, layer in enumerate(layers):
        for name, (t, _hid) in layer.params.items():
            if t.dtype != torch.float64:
                raise _registration_failure(
                    student,
                    seq,
                    what,
                    layers,
                    f"after {what}{label}, layer {i} "
                    f"({layer.label}).{name} is still {dtype_str(t.dtype)}, expected float64",
                )
    _check_forward(
        student, seq, f"{what}{label}", layers, randn(rng, (6, 5), torch.float64), "randn", tolerance=ROUNDING
    )


@pytest.mark.points(0.5)
def test_eval_and_train_reach_layers(student, rng):
    """.eval() and .train() on the Sequential switch the mode of every layer (checked with nn.Dropout)"""
    seq, what, layers = _build(student, [("Linear", 5, 4), ("Dropout", 0.5)])
    drop = layers[1]
    student.call(seq.attr("eval"), _what=f"{what}.eval()")
    if student.getattr(drop.handle, "training") is not False:
        raise _registration_failure(
            student, seq, what, layers, f"after {what}.eval() the nn.Dropout layer is still in training mode"
        )
    _check_forward(student, seq, f"{what}.eval()", layers, randn(rng, (6, 5)), "randn", tolerance=ROUNDING)
    student.call(seq.attr("train"), _what=f"{what}.train()")
    if student.getattr(drop.handle, "training") is not True:
        raise _registration_failure(
            student, seq, what, layers, f"after {what}.train() the nn.Dropout layer is not in training mode"
        )


# ---------------------------------------------------------------------------
# gradients


@pytest.mark.points(1)
def test_gradients_reach_layers(student, rng):
    """backward through the Sequential gives every layer's parameters (and X) their gradients"""
    seq, what, layers = _build(student, MLP)
    X = randn(rng, (2, 3, 5))
    G = randn(rng, (2, 3, 3))
    inputs = describe("X", X, "randn") + "; " + describe("grad_output", G, "randn")
    _check_forward(student, seq, what, layers, X, "randn", tolerance=ROUNDING)
    named = _named_params(student, seq, what)
    owner = _owner(layers)
    if not any(hid in owner for hid in named.values()):
        has = "none of its layers' parameters" if named else "no parameters"
        raise _registration_failure(
            student,
            seq,
            what,
            layers,
            f"backward through {what}(X) cannot reach any layer's parameters: {what} has {has}",
        )
    out, grads, pgrads = student.vjp(seq, [X], grad_output=G, params=seq, _what=f"backward through {what}(X)")

    # the same computation here, in float64, with autograd
    leaves = {hid: t.double().requires_grad_() for layer in layers for t, hid in layer.params.values()}
    x = X.double().requires_grad_()
    h = x
    for layer in layers:
        if layer.spec[0] == "Linear":
            h = h @ leaves[layer.params["weight"][1]].T + leaves[layer.params["bias"][1]]
        else:
            h = layer(h)
    (h * G.double()).sum().backward()

    for name, hid in named.items():
        if hid not in owner:
            continue
        g = pgrads.get(name)
        check(
            g is not None,
            f"backward through {what}(X) gave no gradient for {owner[hid]}",
            "Call each layer on the previous output (`X = layer(X)`) without .detach() or torch.no_grad(), "
            "so that the graph reaches every layer.",
        )
        assert_close(
            g,
            leaves[hid].grad,
            what=f"the gradient of {owner[hid]}",
            inputs=inputs,
            dtype=torch.float32,
            tolerance=ROUNDING,
            scale=10.0,
            hint=FORWARD_HINT,
        )
    check(
        bool(grads) and grads[0] is not None,
        f"backward through {what}(X) gave no gradient for X",
        "Don't detach X or the intermediate outputs.",
    )
    assert_close(
        grads[0],
        x.grad,
        what=f"the gradient of {what}(X) for X",
        inputs=inputs,
        dtype=torch.float32,
        tolerance=ROUNDING,
        scale=10.0,
        hint=FORWARD_HINT,
    )
