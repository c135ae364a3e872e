"""Hidden suite for exercise 7: plain SGD (step and zero_grad).

The student's SGD is given the parameters of torch's own layers, built in the
worker from a state chosen here (so the exercise is graded on its own).  The
gradients are chosen here too and given to the worker's parameters by
``torch.autograd.backward`` (so that they are ordinary tensors, as after a real
backward), and the same state and gradients go through ``reference.SGD`` in
this process: that is the expected result (it makes torch.optim.SGD's update,
``p.add_(p.grad, alpha=-lr)``, without importing torch.optim's machinery, which
costs about 2 CPU-seconds on first use).  Only when a parameter is wrong are
the usual wrong updates computed here to name the mistake (``_buggy_updates``).
The model, in the worker and mirrored here, is grader/suites/sgd_model.py.
"""

import math

import pytest
import torch

import reference
from grader.suites.common import (
    EXACT,
    ROUNDING,
    SAME_NUMBERS_FINE,
    ErrorHint,
    Failure,
    Misconception,
    Tolerance,
    VisibleStep,
    assert_close,
    call_checked,
    check,
    compare,
    describe,
    expect_tensor,
    name_bug,
    randn,
    read_values,
)
from grader.suites.sgd_model import Model
from grader.transport.student import StudentError
from grader.wire.codec import meta

# the visible test's inputs, declared once: the test makes them from here, and so does the student
# edition (grade release stores them with the parameters after one step, as data)
SMALL_STEP: VisibleStep = VisibleStep(
    test="test_small_step",
    cls="SGD",
    what="SGD(model.parameters(), lr=0.25)",
    layers=((2, 1),),
    options={"lr": 0.25},
    inputs=lambda rng: (
        {"0.weight": torch.tensor([[1.0, -2.0]]), "0.bias": torch.tensor([0.5])},
        {"0.weight": torch.tensor([[2.0, 4.0]]), "0.bias": torch.tensor([-4.0])},
        ("weight [[1, -2]], bias [0.5]", "[[2, 4]] (weight) and [-4] (bias)"),
    ),
    expected=lambda state, grads: {
        n: (state[n].double() - SMALL_STEP.options["lr"] * grads[n].double()).float() for n in state
    },
    tolerance=Tolerance(rtol=1e-5, atol=1e-6),
    hint="step() moves each parameter against its gradient: p -= lr * p.grad, inside torch.no_grad().",
    kind="sgd",
)

NOT_UPDATED_HINT = (
    "The model's parameters did not change. Update each parameter IN PLACE inside "
    "`with torch.no_grad():` -- `p -= self.lr * p.grad` or `p.add_(p.grad, alpha=-self.lr)`. "
    "`p = p - self.lr * p.grad` only rebinds the loop variable: the model keeps its old tensor."
)
GENERATOR_HINT = (
    "With the generator `model.parameters()` the parameters were not updated (a list works). "
    "A generator can be read only once: store `self.params = list(params)` in __init__, and don't "
    "iterate `params` before that (a second pass over a used-up generator sees no parameters)."
)
USED_UP_HINT = (
    "The first step worked but the second changed nothing: you kept the generator "
    "`model.parameters()` and the first step used it up. Store `self.params = list(params)` in __init__."
)
ZERO_GENERATOR_HINT = (
    "With the generator `model.parameters()` zero_grad cleared no gradient (with a list it does): "
    "a generator can be read only once. Store `self.params = list(params)` in __init__, and don't "
    "iterate `params` before that."
)
STEP_HINT = "step() must do `p <- p - lr * p.grad` for every parameter that has a gradient, once per call."
NO_GRAD_HINT = (
    "PyTorch refuses to change a leaf tensor that requires grad while autograd records: do the update "
    "inside `with torch.no_grad():` (the update is not part of the model, so it must not be recorded)."
)
NONE_GRAD_HINT = "A parameter whose .grad is None did not take part in the loss: skip it (`if p.grad is not None:`)."
ZERO_CLEAR_HINT = (
    "zero_grad must clear every gradient: `p.grad = None` or `p.grad.zero_()` for every parameter "
    "(a plain `g = 0` or `p.grad * 0` changes nothing)."
)
ZERO_NONE_HINT = (
    "zero_grad must not fail for a parameter that has no gradient yet: either set `p.grad = None` "
    "or zero it only `if p.grad is not None`."
)
DEFAULT_LR_HINT = "The signature is `__init__(self, params, lr=1.0)`: the default learning rate is 1.0."


# The likely wrong updates, recognised from the parameters after a step (``_buggy_updates``).
NOT_UPDATED = Misconception("unchanged", NOT_UPDATED_HINT)
SIGN = Misconception("sign", "The update goes the wrong way: gradient DESCENT subtracts, `p <- p - lr * p.grad`.")
LR_IGNORED = Misconception(
    "lr", "The learning rate is ignored: multiply the gradient by self.lr, `p <- p - self.lr * p.grad`."
)
SIGN_AND_LR = Misconception("sign and lr", SIGN.hint + " " + LR_IGNORED.hint)
TWICE = Misconception(
    "twice", "The update is applied twice per step: each call of step() changes every parameter once."
)

# What an error raised by the student's code says, and the hint that names the bug.
STEP_ERRORS = (
    ErrorHint(("a leaf Variable that requires grad",), NO_GRAD_HINT),
    ErrorHint(("unsupported operand", "NoneType"), NONE_GRAD_HINT),
    ErrorHint(("'NoneType' object has no attribute",), NONE_GRAD_HINT),
)
ZERO_ERRORS = (ErrorHint(("'NoneType' object has no attribute",), ZERO_NONE_HINT),)


def _step(student, opt, what, model=None):
    """opt.step(); with ``model``, the model's parameters read after it in the same round trip (returned)."""
    if model is None:
        call_checked(student, opt.attr("step"), _what=f"{what}.step()", errors=STEP_ERRORS)
        return None
    _, info = call_checked(student, opt.attr("step"), _what=f"{what}.step()", errors=STEP_ERRORS, _inspect=model.handle)
    model._take(info)
    return model.last


def _buggy_updates(before, grad, lr):
    """What each wrong update makes of one parameter."""
    b, g = before.detach().double().cpu(), grad.double().cpu()
    yield NOT_UPDATED.gives(lambda: b)
    if abs(lr - 1.0) > 1e-3:
        yield LR_IGNORED.gives(lambda: b - g)
        yield SIGN_AND_LR.gives(lambda: b + g)
    yield SIGN.gives(lambda: b + lr * g)
    yield TWICE.gives(lambda: b - 2 * lr * g)


# learning-rate schedules students add to plain SGD, as a factor of lr at step t (0 for the first step)
SCHEDULES = (
    ("lr / sqrt(t + 1)", lambda t: 1 / math.sqrt(t + 1)),
    ("lr / (t + 1)", lambda t: 1 / (t + 1)),
    ("lr * 0.5 ** t", lambda t: 0.5**t),
    ("lr * 0.9 ** t", lambda t: 0.9**t),
    ("lr * 0.99 ** t", lambda t: 0.99**t),
    ("lr * 0.1 ** t", lambda t: 0.1**t),
)


def _scaled_rate(got, before, grad, lr) -> str | None:
    """When every entry moved by the same multiple r of lr * grad (r not 1): the learning rate used,
    and the schedule (of those students write) that gives r at some step t, if one does."""
    b, g, p = before.detach().double().cpu(), grad.double().cpu(), got.detach().double().cpu()
    if p.shape != b.shape or g.shape != b.shape:
        return None
    big = g.abs() > 1e-3
    if int(big.sum()) < 2:
        return None
    rates = ((b - p)[big] / g[big]) / lr
    r = float(rates.median())
    if not math.isfinite(r) or abs(r - 1) < 1e-6 or r <= 0 or float((rates - r).abs().max()) > 1e-4 * max(1, abs(r)):
        return None
    found = [f"{name} at step t = {t}" for name, f in SCHEDULES for t in range(1, 6) if abs(f(t) - r) < 1e-4 * r]
    if found:
        return (
            f"The learning rate changes from step to step: this step moved every parameter by "
            f"{r:.4g} × lr × p.grad, which is {' or '.join(found[:3])} (counting steps from 0). Plain SGD "
            "uses the same lr at every step: `p <- p - self.lr * p.grad`, with no schedule or "
            "decay and without changing self.lr."
        )
    return (
        f"Every parameter moved by {r:.4g} × lr × p.grad instead of lr × p.grad (a learning rate of "
        f"{r * lr:.4g}, not {lr:g}): use self.lr as given, unchanged from step to step."
    )


def _unchanged(got: dict, before: dict, names) -> bool:
    return all(isinstance(got.get(n), torch.Tensor) and torch.equal(got[n], before[n]) for n in names)


def _compare(
    model, got: dict, before: dict, grads: dict, lr, what, *, tolerance, scale=4.0, hint=None, unchanged_hint=None
):
    """Every parameter of the worker's model against the local mirror after reference.SGD's step, within
    ``tolerance`` at the parameters' magnitude ``scale``."""
    with_grad = [n for n in model.names if grads.get(n) is not None]
    if with_grad and _unchanged(got, before, with_grad):
        hint = unchanged_hint() if callable(unchanged_hint) else unchanged_hint
        raise Failure(
            f"after {what} no parameter of the model changed (every parameter but "
            f"{', '.join(n for n in model.names if n not in with_grad) or 'none'} had a random .grad)"
            if len(with_grad) < len(model.names)
            else f"after {what} no parameter of the model changed (every .grad was set to {model.grads_how})",
            hint or NOT_UPDATED_HINT,
        )
    allowed = tolerance.at(model.dtype, scale)
    for n in model.names:
        check(n in got, f"after {what} the model has no parameter {n}", STEP_HINT)
        expect_tensor(got[n], f"the parameter {n}")
        expected = model.local[n].detach()

        def diagnose(g, n=n, expected=expected):
            """Run only when parameter n is wrong."""
            return (
                hint
                or (
                    grads.get(n) is not None
                    and (
                        name_bug(g, expected, _buggy_updates(before[n], grads[n], lr), allowed)
                        or _scaled_rate(g, before[n], grads[n], lr)
                    )
                )
                or STEP_HINT
            )

        compare(
            got[n],
            expected,
            diagnose=diagnose,
            what=f"parameter {n} of the model after {what}",
            inputs=f"{model.inputs}; .grad set to {model.grads_how}",
            dtype=model.dtype,
            device=model.device,
            tolerance=allowed,
        )


def _reference_step(model, lr):
    reference.SGD([model.local[n] for n in model.names], lr=lr).step()


# ---------------------------------------------------------------------------
# step

# no lr of 0.5 in the tests: there an update made twice (2 * lr = 1) is the same as an ignored lr
LRS = {"lr0.1": 0.1, "lr0.4": 0.4, "lr3": 3.0}


@pytest.mark.points(2)
@pytest.mark.parametrize("lr", LRS.values(), ids=LRS.keys())
def test_one_step(student, rng, lr, device):
    """one step() changes every parameter to p - lr * p.grad, as torch.optim.SGD does"""
    model = Model(student, rng, device=device)
    opt, what = model.sgd(model.param_list(), lr=lr)
    grads = model.set_grads(rng)
    before = model.current()
    stepped = _step(student, opt, what, model)
    _reference_step(model, lr)
    _compare(model, stepped, before, grads, lr, f"{what}.step()", tolerance=ROUNDING)


@pytest.mark.visible
@pytest.mark.points(0.5)
def test_small_step(student, rng):
    """one step() to work by hand: nn.Linear(2, 1), weight [[1, -2]], bias [0.5], .grad [[2, 4]] and [-4], lr 0.25"""
    state, values, (how_state, how_grads) = SMALL_STEP.make()
    lr = SMALL_STEP.options["lr"]
    model = Model(student, rng, layers=list(SMALL_STEP.layers), state=state, how=how_state)
    opt, what = model.sgd(model.param_list(), lr=lr)
    grads = model.set_grads(rng, values=values, how=how_grads)
    before = model.current()
    stepped = _step(student, opt, what, model)
    _reference_step(model, lr)
    _compare(model, stepped, before, grads, lr, f"{what}.step()", tolerance=ROUNDING)


@pytest.mark.points(0.5)
def test_one_step_float64(student, rng):
    """one step() on float64 parameters keeps them float64 and matches torch.optim.SGD"""
    model = Model(student, rng, dtype=torch.float64)
    opt, what = model.sgd(model.param_list(), lr=0.3)
    grads = model.set_grads(rng)
    before = model.current()
    stepped = _step(student, opt, what, model)
    _reference_step(model, 0.3)
    _compare(model, stepped, before, grads, 0.3, f"{what}.step()", tolerance=ROUNDING)


@pytest.mark.points(0.5)
def test_default_lr(student, rng):
    """without an lr argument the learning rate is 1.0"""
    model = Model(student, rng)
    opt, what = model.sgd(model.param_list())
    grads = model.set_grads(rng)
    before = model.current()
    got = _step(student, opt, what, model)
    _reference_step(model, 1.0)
    try:
        _compare(model, got, before, grads, 1.0, f"{what}.step()", tolerance=ROUNDING)
    except Failure:
        for n in model.names:
            g = expect_tensor(got[n], f"the parameter {n}").double()
            for lr in (0.1, 0.01, 0.001):
                if SAME_NUMBERS_FINE.allows(g, before[n].double() - lr * grads[n].double()):
                    raise Failure(
                        f"after {what}.step() the parameter {n} moved by {lr:g} * grad, expected "
                        "1.0 * grad (the default learning rate)",
                        DEFAULT_LR_HINT,
                    ) from None
        raise


@pytest.mark.points(0.5)
def test_lr_positional(student, rng):
    """the learning rate can be given as the second positional argument"""
    model = Model(student, rng)
    opt, what = model.sgd(model.param_list(), 0.2)
    grads = model.set_grads(rng)
    before = model.current()
    stepped = _step(student, opt, what, model)
    _reference_step(model, 0.2)
    _compare(model, stepped, before, grads, 0.2, f"{what}.step()", tolerance=ROUNDING)


def _works_with_list(student, rng, method: str) -> bool:
    """A probe, run after a failure with the generator model.parameters(): whether ``method`` of an SGD
    given a LIST of parameters changes the model ("step") or clears every gradient ("zero_grad")."""
    try:
        probe = Model(student, rng)
        opt, what = probe.sgd(probe.param_list(), lr=0.5)
        probe.set_grads(rng)
        before = probe.current()
        student.call(opt.attr(method), _what=f"{what}.{method}()")
        if method == "step":
            after = probe.read()
            return any(isinstance(after[n], torch.Tensor) and not torch.equal(after[n], before[n]) for n in probe.names)
        grads = read_values(student, [h.attr("grad") for h in probe.param_list()], "reading the .grads")
        return all(g is None or (isinstance(g, torch.Tensor) and not g.any()) for g in grads)
    except (Failure, StudentError):
        return False


def _generator_hint(student, rng) -> str:
    """GENERATOR_HINT if the same update works with a list of parameters, else the in-place hint."""
    return GENERATOR_HINT if _works_with_list(student, rng, "step") else NOT_UPDATED_HINT


@pytest.mark.points(1)
def test_generator_several_steps(student, rng):
    """given model.parameters() (a generator), three steps with new gradients each match torch.optim.SGD"""
    model = Model(student, rng)
    lr = 0.4
    opt, what = model.sgd(model.generator(), lr=lr, _params="model.parameters()")
    ref = reference.SGD([model.local[n] for n in model.names], lr=lr)
    for k in range(3):
        grads = model.set_grads(rng)
        before = model.current()
        stepped = _step(student, opt, what, model)
        ref.step()
        _compare(
            model,
            stepped,
            before,
            grads,
            lr,
            f"step {k + 1} of {what}",
            tolerance=ROUNDING,
            unchanged_hint=USED_UP_HINT if k > 0 else (lambda: _generator_hint(student, rng)),
        )


@pytest.mark.points(1)
def test_training_loop(student, rng):
    """five rounds of gradient (of a squared loss) and step() follow the same path as torch.optim.SGD"""
    model = Model(student, rng, dtype=torch.float64)
    lr = 0.05
    X = randn(rng, (16, 5), torch.float64)
    T = randn(rng, (16, 3), torch.float64)
    opt, what = model.sgd(model.generator(), lr=lr, _params="model.parameters()")
    ref = reference.SGD([model.local[n] for n in model.names], lr=lr)

    def loss(p):
        h = X @ p["0.weight"].T + p["0.bias"]
        return ((h @ p["1.weight"].T + p["1.bias"] - T) ** 2).mean()

    for k in range(5):
        before = model.current()
        leaves = {
            n: expect_tensor(before[n], f"the parameter {n}").detach().clone().requires_grad_() for n in model.names
        }
        loss(leaves).backward()
        grads = {n: leaves[n].grad for n in model.names}
        model.give_grads(grads)
        ref.zero_grad()
        loss(model.local).backward()
        stepped = _step(student, opt, what, model)
        ref.step()
        _compare(
            model,
            stepped,
            before,
            grads,
            lr,
            f"round {k + 1} of (gradient of a mean squared loss, {what}.step())",
            tolerance=ROUNDING,
            scale=10.0,
            unchanged_hint=USED_UP_HINT if k > 0 else (lambda: _generator_hint(student, rng)),
        )


@pytest.mark.points(0.5)
def test_grad_none_skipped(student, rng):
    """a parameter whose .grad is None is left alone; the others are updated"""
    model = Model(student, rng)
    lr = 0.4
    opt, what = model.sgd(model.param_list(), lr=lr)
    grads = model.set_grads(rng, skip=("0.bias", "1.weight"))
    before = model.current()
    got = _step(student, opt, f"{what} (0.bias.grad and 1.weight.grad are None)", model)
    _reference_step(model, lr)
    for n in ("0.bias", "1.weight"):
        assert_close(
            got[n],
            before[n],
            what=f"parameter {n} (its .grad is None) after {what}.step()",
            inputs=model.inputs,
            tolerance=EXACT,
            dtype=model.dtype,
            hint="A parameter without a gradient must not change: skip it (`if p.grad is not None:`).",
        )
    _compare(
        model, got, before, grads, lr, f"{what}.step() (0.bias.grad and 1.weight.grad are None)", tolerance=ROUNDING
    )


@pytest.mark.points(1)
def test_updates_model_in_place(student, rng):
    """step() changes the model's own parameter tensors: the model's output afterwards uses the new values"""
    model = Model(student, rng)
    lr = 0.4
    ids = {n: h.id for n, h in model.handles.items()}
    opt, what = model.sgd(model.param_list(), lr=lr)
    grads = model.set_grads(rng)
    before = model.current()
    stepped = _step(student, opt, what, model)
    _reference_step(model, lr)
    _compare(model, stepped, before, grads, lr, f"{what}.step()", tolerance=ROUNDING)
    after = model.last_handles
    replaced = [n for n in model.names if n not in after or after[n].id != ids[n]]
    check(
        not replaced,
        f"after {what}.step() the model's parameters {', '.join(replaced)} are different tensor objects",
        NOT_UPDATED_HINT,
    )
    X = randn(rng, (6, 5))
    out = student.call(model.handle, X, _what=f"{model.label}(X) after {what}.step()")

    def output(p):
        p = {n: t.detach().double().cpu() for n, t in p.items()}
        return (X.double() @ p["0.weight"].T + p["0.bias"]) @ p["1.weight"].T + p["1.bias"]

    got = expect_tensor(out, f"{model.label}(X)")
    compare(
        got,
        output(model.local),
        what=f"the model's output {model.label}(X) after {what}.step()",
        inputs=model.inputs + "; every .grad random; " + describe("X", X, "randn"),
        tolerance=ROUNDING,
        scale=20.0,
        dtype=torch.float32,
        diagnose=lambda g: (
            NOT_UPDATED_HINT if SAME_NUMBERS_FINE.allows(g.double().cpu(), output(before)) else STEP_HINT
        ),
    )


@pytest.mark.points(1)
def test_step_builds_no_graph(student, rng):
    """after step() (run with autograd enabled) the parameters are still leaves that require grad, with no grad_fn"""
    model = Model(student, rng)
    lr = 0.4
    opt, what = model.sgd(model.param_list(), lr=lr)
    grads = model.set_grads(rng)
    before = model.current()
    got = _step(student, opt, what, model)
    _reference_step(model, lr)
    _compare(model, got, before, grads, lr, f"{what}.step()", tolerance=ROUNDING)
    for n in model.names:
        m = meta(got[n])
        check(
            m.requires_grad,
            f"after {what}.step() the parameter {n} no longer requires a gradient",
            "Don't switch requires_grad off: update under `with torch.no_grad():` instead, which leaves the "
            "parameters trainable.",
        )
        check(
            m.grad_fn is None and m.is_leaf,
            f"after {what}.step() the parameter {n} has grad_fn {m.grad_fn}: the update was recorded by autograd",
            NO_GRAD_HINT,
        )


# ---------------------------------------------------------------------------
# zero_grad


def _zero_grad_checks(student, model, opt, what, generator_rng=None):
    """zero_grad() leaves the parameters alone and clears every gradient.  ``generator_rng``: the optimizer
    was given model.parameters(), and a gradient left uncleared is checked with a list (a probe)."""
    before = model.current()
    _, info = call_checked(
        student, opt.attr("zero_grad"), _what=f"{what}.zero_grad()", errors=ZERO_ERRORS, _inspect=model.handle
    )  # the parameters, read in the same round trip
    model._take(info)
    after = model.last
    for n in model.names:
        assert_close(
            after[n],
            before[n],
            what=f"parameter {n} after {what}.zero_grad()",
            inputs=model.inputs,
            tolerance=EXACT,
            dtype=model.dtype,
            hint="zero_grad clears the GRADIENTS (`p.grad.zero_()` or `p.grad = None`), never the "
            "parameters themselves (`p.zero_()` or `p.data.zero_()` erase the model).",
        )
    grads = read_values(student, [model.handles[n].attr("grad") for n in model.names], "reading the .grads")
    for n, g in zip(model.names, grads):
        if g is None:
            continue
        g = expect_tensor(g, f"the .grad of parameter {n} after {what}.zero_grad()")
        compare(
            g,
            torch.zeros(g.shape),
            what=f"the .grad of parameter {n} after {what}.zero_grad()",
            inputs=model.inputs + "; every .grad set to random values",
            tolerance=EXACT,
            dtype=g.dtype,
            device=meta(g).device.split(":")[0],
            diagnose=lambda _g: (
                (
                    generator_rng is not None
                    and _works_with_list(student, generator_rng, "zero_grad")
                    and ZERO_GENERATOR_HINT
                )
                or ZERO_CLEAR_HINT
            ),
        )


@pytest.mark.points(1)
def test_zero_grad(student, rng):
    """zero_grad() leaves every gradient zero or None and the parameters unchanged"""
    model = Model(student, rng)
    opt, what = model.sgd(model.param_list(), lr=0.1)
    model.set_grads(rng)
    _zero_grad_checks(student, model, opt, what)


@pytest.mark.points(0.5)
def test_zero_grad_tolerates_none(student, rng):
    """zero_grad() works when some parameters have no gradient yet, and clears the others"""
    model = Model(student, rng)
    opt, what = model.sgd(model.generator(), lr=0.1, _params="model.parameters()")
    model.set_grads(rng, skip=("0.weight", "1.bias"))
    _zero_grad_checks(student, model, opt, f"{what} (0.weight.grad and 1.bias.grad are None)", generator_rng=rng)
