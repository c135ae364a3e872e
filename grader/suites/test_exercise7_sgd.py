"""Hidden suite for exercise 7: plain SGD (step and zero_grad).

The student's SGD is given the parameters of torch's own layers, built in the
worker from a state chosen here (so the exercise is graded on its own).  The
gradients are chosen here too and given to the worker's parameters by
``torch.autograd.backward`` (so that they are ordinary tensors, as after a real
backward), and the same state and gradients go through ``reference.SGD`` in
this process: that is the expected result (it makes torch.optim.SGD's update,
``p.add_(p.grad, alpha=-lr)``, without importing torch.optim's machinery, which
costs about 2 CPU-seconds on first use).  Only when a parameter is wrong are
the usual wrong updates computed here to name the mistake (``_step_bugs``).
"""
import pytest
import torch

import reference
from grader.verdicts.checks import Failure, assert_close, check, describe, dtype_str, expect_tensor, tol
from grader.transport.student import Call, Handle, Student, StudentError
from grader.suites.common import compare, match_bug, randn, read_values
from grader.transport.wire import meta

LAYERS = [(5, 4), (4, 3)]

NOT_UPDATED_HINT = ("The model's parameters did not change. Update each parameter IN PLACE inside "
                    "`with torch.no_grad():` -- `p -= self.lr * p.grad` or `p.add_(p.grad, alpha=-self.lr)`. "
                    "`p = p - self.lr * p.grad` only rebinds the loop variable: the model keeps its old tensor.")
GENERATOR_HINT = ("With the generator `model.parameters()` the parameters were not updated (a list works). "
                  "A generator can be read only once: store `self.params = list(params)` in __init__, and don't "
                  "iterate `params` before that (a second pass over a used-up generator sees no parameters).")
USED_UP_HINT = ("The first step worked but the second changed nothing: you kept the generator "
                "`model.parameters()` and the first step used it up. Store `self.params = list(params)` in __init__.")
ZERO_GENERATOR_HINT = ("With the generator `model.parameters()` zero_grad cleared no gradient (with a list it does): "
                       "a generator can be read only once. Store `self.params = list(params)` in __init__, and don't "
                       "iterate `params` before that.")
SIGN_HINT = "The update goes the wrong way: gradient DESCENT subtracts, `p <- p - lr * p.grad`."
LR_HINT = "The learning rate is ignored: multiply the gradient by self.lr, `p <- p - self.lr * p.grad`."
TWICE_HINT = "The update is applied twice per step: each call of step() changes every parameter once."
STEP_HINT = "step() must do `p <- p - lr * p.grad` for every parameter that has a gradient, once per call."
NO_GRAD_HINT = ("PyTorch refuses to change a leaf tensor that requires grad while autograd records: do the update "
                "inside `with torch.no_grad():` (the update is not part of the model, so it must not be recorded).")
NONE_GRAD_HINT = ("A parameter whose .grad is None did not take part in the loss: skip it "
                  "(`if p.grad is not None:`).")
ZERO_CLEAR_HINT = ("zero_grad must clear every gradient: `p.grad = None` or `p.grad.zero_()` for every parameter "
                   "(a plain `g = 0` or `p.grad * 0` changes nothing).")
ZERO_NONE_HINT = ("zero_grad must not fail for a parameter that has no gradient yet: either set `p.grad = None` "
                  "or zero it only `if p.grad is not None`.")
DEFAULT_LR_HINT = "The signature is `__init__(self, params, lr=1.0)`: the default learning rate is 1.0."

# (substrings that must all be in the error message, hint)
STEP_ERRORS = [(("a leaf Variable that requires grad",), NO_GRAD_HINT),
               (("unsupported operand", "NoneType"), NONE_GRAD_HINT),
               (("'NoneType' object has no attribute",), NONE_GRAD_HINT)]
ZERO_ERRORS = [(("'NoneType' object has no attribute",), ZERO_NONE_HINT)]
# setting the next gradients fails when step() switched requires_grad off
GRAD_ERRORS = [(("does not require grad",), "After step() a parameter no longer requires a gradient: don't switch "
                                            "requires_grad off or replace the tensor; update it in place under "
                                            "`with torch.no_grad():`, which leaves it trainable.")]


def _call(student, fn, *args, _what, _errors=(), _inspect=None, **kwargs):
    """student.call (``_inspect``: student.call_and_inspect of that object), with a sharper hint
    for errors whose message shows the likely cause."""
    try:
        if _inspect is not None:
            return student.call_and_inspect(fn, *args, _what=_what, _of=_inspect, **kwargs)
        return student.call(fn, *args, _what=_what, **kwargs)
    except StudentError as e:
        if e.kind == "exception":
            for patterns, hint in _errors:
                if all(p in e.message for p in patterns):
                    raise StudentError(e.kind, e.message, hint, **e.details) from None
        raise


class Model:
    """torch layers in the worker with a known state, mirrored here by leaf tensors."""

    def __init__(self, student, rng, dtype=torch.float32, device="cpu", layers=LAYERS, state=None,
                 how="random weights and biases"):
        """One round trip builds the layers and reads them back (``call_and_inspect``); without a ``state``
        their own random initial values (seeded by the worker) are the state, mirrored here."""
        self.student = student
        self.dtype, self.device, self.how = dtype, device, how
        self.label = "nn.Sequential(" + ", ".join(f"nn.Linear({i}, {o})" for i, o in layers) + ")"
        mods = [Call(Student.torch("nn.Linear"), i, o, dtype=dtype) for i, o in layers]
        self.handle, info = student.call_and_inspect(Student.torch("nn.Sequential"), *mods, _what=self.label)
        self._take(info)
        if state is not None:
            student.call(self.handle.attr("load_state_dict"), state, _what=f"{self.label}.load_state_dict(...)")
            self.last = {n: t.to(dtype) for n, t in state.items()}
        if device != "cpu":
            student.call(self.handle.attr("to"), device, _what=f"{self.label}.to('{device}')")
            self.read()
        self.names = list(self.last)
        self.local = {n: t.detach().cpu().clone().requires_grad_() for n, t in self.last.items()}
        self.handles = dict(self.last_handles)
        self.grads_none = True  # no .grad in the worker yet (torch's fresh layers)
        self.grads_how = "random values"

    @property
    def inputs(self) -> str:
        return f"{self.label}, {dtype_str(self.dtype)} on {self.device}, {self.how}"

    def _take(self, info) -> None:
        params = info.get("params", [])
        self.last = {n: t for n, t, _h in params}
        self.last_handles = {n: h for n, _t, h in params}

    def read(self) -> dict:
        """{name: tensor} of the worker's parameters, as they are now (``last_handles``: their handles)."""
        self._take(self.student.inspect(self.handle, _what=f"inspecting {self.label}"))
        return self.last

    def current(self) -> dict:
        """The parameters as last read (or set): nothing of the student's has run on them since but
        the optimizer's construction and the grader's own gradient setting."""
        return self.last

    def param_list(self) -> list:
        return [self.handles[n] for n in self.names]

    def generator(self):
        """model.parameters(), made in the worker as the request that passes it is read."""
        return Call(self.handle.attr("parameters"))

    def set_grads(self, rng, skip=(), values=None, how="random values") -> dict:
        """Random gradients (or ``values``, described by ``how``) for every parameter, None for those in
        ``skip``, here and in the worker, where torch's own zero_grad and backward put them in place: fresh
        tensors, as after a real backward (a tensor sent to the worker is a view of the received bytes,
        which `p.grad.detach_()`, torch's old zero_grad, refuses)."""
        grads = {n: None if n in skip else values[n] if values else randn(rng, tuple(self.local[n].shape), self.dtype)
                 for n in self.names}
        for n, g in grads.items():
            self.local[n].grad = None if g is None else g.clone()
        self.grads_how = how
        self.give_grads(grads)
        return grads

    def give_grads(self, grads: dict) -> None:
        """Set the worker's gradients (None where ``grads`` has None): zero_grad, then backward with them,
        in one round trip (zero_grad is made first, in the same request)."""
        clear = [] if self.grads_none else [Call(self.handle.attr("zero_grad"), set_to_none=True)]
        self.grads_none = False
        given = [n for n in self.names if grads.get(n) is not None]
        _call(self.student, Student.torch("autograd.backward"), [self.handles[n] for n in given],
              [grads[n].to(self.device) for n in given], _what="setting the gradients", _errors=GRAD_ERRORS,
              _before=clear)

    def sgd(self, *args, _params="params", **kwargs):
        """The student's SGD built in the worker."""
        what = "SGD(" + ", ".join([_params] + [repr(a) for a in args[1:]] +
                                  [f"{k}={v!r}" for k, v in kwargs.items()]) + ")"
        opt = self.student.call(self.student.ref("SGD"), *args, _what=what, **kwargs)
        check(isinstance(opt, Handle) and "Tensor" not in opt.type, f"{what} did not make an optimizer object",
              "SGD is a class: `class SGD:` with `__init__(self, params, lr=1.0)`, `step(self)` and `zero_grad(self)`.")
        return opt, what


def _step(student, opt, what, model=None):
    """opt.step(); with ``model``, the model's parameters read after it in the same round trip (returned)."""
    if model is None:
        _call(student, opt.attr("step"), _what=f"{what}.step()", _errors=STEP_ERRORS)
        return None
    _, info = _call(student, opt.attr("step"), _what=f"{what}.step()", _errors=STEP_ERRORS, _inspect=model.handle)
    model._take(info)
    return model.last


def _close(a, b):
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-6)


def _step_bugs(before, grad, lr):
    """The usual wrong updates of one parameter, for match_bug: (compute, key, hint)."""
    b, g = before.detach().double().cpu(), grad.double().cpu()
    yield (lambda: b), "unchanged", NOT_UPDATED_HINT
    if abs(lr - 1.0) > 1e-3:
        yield (lambda: b - g), "lr", LR_HINT
        yield (lambda: b + g), "sign and lr", SIGN_HINT + " " + LR_HINT
    yield (lambda: b + lr * g), "sign", SIGN_HINT
    yield (lambda: b - 2 * lr * g), "twice", TWICE_HINT


def _unchanged(got: dict, before: dict, names) -> bool:
    return all(isinstance(got.get(n), torch.Tensor) and torch.equal(got[n], before[n]) for n in names)


def _compare(model, got: dict, before: dict, grads: dict, lr, what, hint=None, scale=4.0, unchanged_hint=None):
    """Every parameter of the worker's model against the local mirror after reference.SGD's step."""
    with_grad = [n for n in model.names if grads.get(n) is not None]
    if with_grad and _unchanged(got, before, with_grad):
        hint = unchanged_hint() if callable(unchanged_hint) else unchanged_hint
        raise Failure(f"after {what} no parameter of the model changed (every parameter but "
                      f"{', '.join(n for n in model.names if n not in with_grad) or 'none'} had a random .grad)"
                      if len(with_grad) < len(model.names) else
                      f"after {what} no parameter of the model changed (every .grad was set to {model.grads_how})",
                      hint or NOT_UPDATED_HINT)
    rtol, atol = tol(model.dtype, scale)
    for n in model.names:
        check(n in got, f"after {what} the model has no parameter {n}", STEP_HINT)
        expect_tensor(got[n], f"the parameter {n}")
        expected = model.local[n].detach()

        def diagnose(g, n=n, expected=expected):
            """Run only when parameter n is wrong."""
            return hint or (grads.get(n) is not None and match_bug(g, expected, _step_bugs(before[n], grads[n], lr),
                                                                   rtol, atol)) or STEP_HINT

        compare(got[n], expected, diagnose=diagnose, what=f"parameter {n} of the model after {what}",
                inputs=f"{model.inputs}; .grad set to {model.grads_how}", dtype=model.dtype, device=model.device,
                rtol=rtol, atol=atol)


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
    _compare(model, stepped, before, grads, lr, f"{what}.step()")


@pytest.mark.visible
@pytest.mark.points(0.5)
def test_small_step(student, rng):
    """one step() to work by hand: nn.Linear(2, 1), weight [[1, -2]], bias [0.5], .grad [[2, 4]] and [-4], lr 0.25"""
    state = {"0.weight": torch.tensor([[1.0, -2.0]]), "0.bias": torch.tensor([0.5])}
    model = Model(student, rng, layers=[(2, 1)], state=state, how="weight [[1, -2]], bias [0.5]")
    opt, what = model.sgd(model.param_list(), lr=0.25)
    grads = model.set_grads(rng, values={"0.weight": torch.tensor([[2.0, 4.0]]), "0.bias": torch.tensor([-4.0])},
                            how="[[2, 4]] (weight) and [-4] (bias)")
    before = model.current()
    stepped = _step(student, opt, what, model)
    _reference_step(model, 0.25)
    _compare(model, stepped, before, grads, 0.25, f"{what}.step()")


@pytest.mark.points(0.5)
def test_one_step_float64(student, rng):
    """one step() on float64 parameters keeps them float64 and matches torch.optim.SGD"""
    model = Model(student, rng, dtype=torch.float64)
    opt, what = model.sgd(model.param_list(), lr=0.3)
    grads = model.set_grads(rng)
    before = model.current()
    stepped = _step(student, opt, what, model)
    _reference_step(model, 0.3)
    _compare(model, stepped, before, grads, 0.3, f"{what}.step()")


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
        _compare(model, got, before, grads, 1.0, f"{what}.step()")
    except Failure:
        for n in model.names:
            g = expect_tensor(got[n], f"the parameter {n}").double()
            for lr in (0.1, 0.01, 0.001):
                if _close(g, before[n].double() - lr * grads[n].double()):
                    raise Failure(f"after {what}.step() the parameter {n} moved by {lr:g} * grad, expected "
                                  "1.0 * grad (the default learning rate)", DEFAULT_LR_HINT) from None
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
    _compare(model, stepped, before, grads, 0.2, f"{what}.step()")


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
            return any(isinstance(after[n], torch.Tensor) and not torch.equal(after[n], before[n])
                       for n in probe.names)
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
        _compare(model, stepped, before, grads, lr, f"step {k + 1} of {what}",
                 unchanged_hint=USED_UP_HINT if k > 0 else (lambda: _generator_hint(student, rng)))


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
        leaves = {n: expect_tensor(before[n], f"the parameter {n}").detach().clone().requires_grad_()
                  for n in model.names}
        loss(leaves).backward()
        grads = {n: leaves[n].grad for n in model.names}
        model.give_grads(grads)
        ref.zero_grad()
        loss(model.local).backward()
        stepped = _step(student, opt, what, model)
        ref.step()
        _compare(model, stepped, before, grads, lr,
                 f"round {k + 1} of (gradient of a mean squared loss, {what}.step())", scale=10.0,
                 unchanged_hint=USED_UP_HINT if k > 0 else (lambda: _generator_hint(student, rng)))


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
        assert_close(got[n], before[n], what=f"parameter {n} (its .grad is None) after {what}.step()",
                     inputs=model.inputs, rtol=0, atol=0, dtype=model.dtype,
                     hint="A parameter without a gradient must not change: skip it (`if p.grad is not None:`).")
    _compare(model, got, before, grads, lr, f"{what}.step() (0.bias.grad and 1.weight.grad are None)")


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
    _compare(model, stepped, before, grads, lr, f"{what}.step()")
    after = model.last_handles
    replaced = [n for n in model.names if n not in after or after[n].id != ids[n]]
    check(not replaced, f"after {what}.step() the model's parameters {', '.join(replaced)} are different "
          "tensor objects", NOT_UPDATED_HINT)
    X = randn(rng, (6, 5))
    out = student.call(model.handle, X, _what=f"{model.label}(X) after {what}.step()")

    def output(p):
        p = {n: t.detach().double().cpu() for n, t in p.items()}
        return (X.double() @ p["0.weight"].T + p["0.bias"]) @ p["1.weight"].T + p["1.bias"]

    got = expect_tensor(out, f"{model.label}(X)")
    rtol, atol = tol(torch.float32, 20.0)
    compare(got, output(model.local), what=f"the model's output {model.label}(X) after {what}.step()",
            inputs=model.inputs + "; every .grad random; " + describe("X", X, "randn"), rtol=rtol, atol=atol,
            dtype=torch.float32, diagnose=lambda g: NOT_UPDATED_HINT if _close(g.double().cpu(), output(before))
            else STEP_HINT)


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
    _compare(model, got, before, grads, lr, f"{what}.step()")
    for n in model.names:
        m = meta(got[n])
        check(m.requires_grad, f"after {what}.step() the parameter {n} no longer requires a gradient",
              "Don't switch requires_grad off: update under `with torch.no_grad():` instead, which leaves the "
              "parameters trainable.")
        check(m.grad_fn is None and m.is_leaf,
              f"after {what}.step() the parameter {n} has grad_fn {m.grad_fn}: the update was recorded by autograd",
              NO_GRAD_HINT)


# ---------------------------------------------------------------------------
# zero_grad

def _zero_grad_checks(student, model, opt, what, generator_rng=None):
    """zero_grad() leaves the parameters alone and clears every gradient.  ``generator_rng``: the optimizer
    was given model.parameters(), and a gradient left uncleared is checked with a list (a probe)."""
    before = model.current()
    _, info = _call(student, opt.attr("zero_grad"), _what=f"{what}.zero_grad()", _errors=ZERO_ERRORS,
                    _inspect=model.handle)  # the parameters, read in the same round trip
    model._take(info)
    after = model.last
    for n in model.names:
        assert_close(after[n], before[n], what=f"parameter {n} after {what}.zero_grad()", inputs=model.inputs,
                     rtol=0, atol=0, dtype=model.dtype,
                     hint="zero_grad clears the GRADIENTS (`p.grad.zero_()` or `p.grad = None`), never the "
                          "parameters themselves (`p.zero_()` or `p.data.zero_()` erase the model).")
    grads = read_values(student, [model.handles[n].attr("grad") for n in model.names], "reading the .grads")
    for n, g in zip(model.names, grads):
        if g is None:
            continue
        g = expect_tensor(g, f"the .grad of parameter {n} after {what}.zero_grad()")
        compare(g, torch.zeros(g.shape), what=f"the .grad of parameter {n} after {what}.zero_grad()",
                inputs=model.inputs + "; every .grad set to random values", rtol=0, atol=0, dtype=g.dtype,
                device=meta(g).device.split(":")[0],
                diagnose=lambda _g: (generator_rng is not None and _works_with_list(student, generator_rng, "zero_grad")
                                     and ZERO_GENERATOR_HINT) or ZERO_CLEAR_HINT)


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
