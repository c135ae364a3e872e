"""Hidden suite for exercise 3: the Adam optimizer (step and zero_grad).

The student's Adam is given the parameters of torch's own layers, built in the worker
(grader/suites/sgd_model.py's Model, which exercise 7 of the built-in course uses too); the
gradients are chosen here and given to the worker's parameters by torch.autograd.backward.  The
same start and gradients go through the reference's Adam here: after every step each parameter
must be the reference's.  When one is not, the wrong updates students make are replayed from the
start (``_simulate``) to name the mistake.
"""

import pytest
import torch

from grader.suites.common import (
    EXACT,
    ROUNDING,
    ErrorHint,
    Misconception,
    VisibleStep,
    call_checked,
    check,
    compare,
    course_reference,
    expect_tensor,
    name_bug,
    randn,
    read_values,
)
from grader.suites.sgd_model import LAYERS, Model
from grader.transport.student import Handle

reference = course_reference(__file__)

UPDATE = (
    "step() must make Adam's update of every parameter p that has a gradient g: m = beta1 * m + (1 - beta1) * g; "
    "v = beta2 * v + (1 - beta2) * g * g; m_hat = m / (1 - beta1 ** t); v_hat = v / (1 - beta2 ** t); "
    "p <- p - lr * m_hat / (sqrt(v_hat) + eps), t counting the step() calls."
)

# The catalogue: the mistakes students make, each named by its hint when the parameters are that mistake's.
NO_BIAS_CORRECTION = Misconception(
    "no bias correction",
    (
        "Correct m and v for their start at zero: m_hat = m / (1 - beta1 ** t) and v_hat = v / (1 - beta2 ** t), "
        "t counting the step() calls (1 at the first), and update with m_hat / (sqrt(v_hat) + eps)."
    ),
)
EPS_INSIDE = Misconception(
    "eps inside the square root",
    ("eps goes outside the square root: p <- p - lr * m_hat / (sqrt(v_hat) + eps), not / sqrt(v_hat + eps)."),
)
SHARED_STATE = Misconception(
    "state shared across parameters",
    (
        "Keep Adam's state per parameter: each parameter has its own m and v (zeros of its shape at first), "
        "kept in the optimizer object (self), and t goes up once per step() call, not once per parameter."
    ),
)
WEIGHT_DECAY_DEFAULT = Misconception(
    "weight decay on by default",
    (
        "Weight decay is off by default: __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0), "
        "and the gradient is p.grad + weight_decay * p."
    ),
)
DECOUPLED = Misconception(
    "decoupled weight decay",
    (
        "Adam's weight decay is added to the gradient, g = p.grad + weight_decay * p, before m and v are updated "
        "(shrinking p by lr * weight_decay * p apart from the update is AdamW's)."
    ),
)
DEFAULT_LR = Misconception("default lr", "The default learning rate is lr=1e-3 (0.001).")
NOT_UPDATED = Misconception(
    "not updated",
    (
        "The parameters did not change: update each one in place under torch.no_grad() (p.sub_(...) or p -= ...); "
        "`p = p - ...` only rebinds a name. Given model.parameters() (a generator), keep self.params = list(params)."
    ),
)

# What an error raised in step() says, and the hint that names the bug.
STEP_ERRORS = (
    ErrorHint(("must match the size of tensor",), SHARED_STATE.hint),
    ErrorHint(("doesn't match the broadcast shape",), SHARED_STATE.hint),
    ErrorHint(
        ("a leaf Variable that requires grad",),
        "Update the parameters under `with torch.no_grad():` (or decorate step with "
        "@torch.no_grad()): autograd must not record the update of a leaf that requires grad.",
    ),
)
ZERO_HINT = (
    "zero_grad must clear every gradient: `p.grad = None` or `p.grad.zero_()` for every parameter, "
    "and leave the parameters themselves alone."
)
NOT_AN_OPTIMIZER = (
    "Adam is a class: `class Adam:` with `__init__(self, params, lr=1e-3, ...)`, `step(self)` and `zero_grad(self)`."
)


def _simulate(
    start,
    grads_seq,
    lr,
    betas,
    eps,
    weight_decay,
    *,
    bias_correction=True,
    eps_inside=False,
    count_per_parameter=False,
    decoupled=False,
):
    """The parameters after Adam's steps with the gradients ``grads_seq``, made with a mistake (float64)."""
    b1, b2 = betas
    params = {n: t.detach().double().clone() for n, t in start.items()}
    m = {n: torch.zeros_like(p) for n, p in params.items()}
    v = {n: torch.zeros_like(p) for n, p in params.items()}
    count = 0
    for t, grads in enumerate(grads_seq, 1):
        for n, p in params.items():
            if grads.get(n) is None:
                continue
            count += 1
            k = count if count_per_parameter else t
            g = grads[n].double()
            if weight_decay and decoupled:
                p = p * (1 - lr * weight_decay)
            elif weight_decay:
                g = g + weight_decay * p
            m[n] = b1 * m[n] + (1 - b1) * g
            v[n] = b2 * v[n] + (1 - b2) * g * g
            m_hat, v_hat = (m[n] / (1 - b1**k), v[n] / (1 - b2**k)) if bias_correction else (m[n], v[n])
            params[n] = p - lr * m_hat / ((v_hat + eps).sqrt() if eps_inside else v_hat.sqrt() + eps)
    return params


def _mistakes(start, grads_seq, hp, defaults):
    """(misconception, its parameters after these steps) for each mistake, computed when asked."""
    lr, betas, eps, wd = hp
    runs = [
        (NO_BIAS_CORRECTION, dict(bias_correction=False)),
        (EPS_INSIDE, dict(eps_inside=True)),
        (SHARED_STATE, dict(count_per_parameter=True)),
    ]
    runs = [(bug, hp, kw) for bug, kw in runs]
    if wd:
        runs.append((DECOUPLED, hp, dict(decoupled=True)))
    if defaults:
        runs += [(WEIGHT_DECAY_DEFAULT, (lr, betas, eps, w), {}) for w in (1e-2, 1e-3, 5e-4, 1e-4, 0.1)]
        runs += [(DEFAULT_LR, (r, betas, eps, wd), {}) for r in (1e-2, 1e-1, 1.0, 1e-4)]
    cache = {}

    def params(k):
        if k not in cache:
            bug, (lr_, betas_, eps_, wd_), kw = runs[k]
            cache[k] = _simulate(start, grads_seq, lr_, betas_, eps_, wd_, **kw)
        return cache[k]

    return [(runs[k][0], lambda k=k: params(k)) for k in range(len(runs))]


def _catalogue(before, start, grads_seq, hp, defaults) -> dict:
    """{parameter name: what it is after these steps, for each catalogued mistake} (``before``: the
    parameters before the last step, which a step that changes nothing leaves)."""
    mistakes = _mistakes(start, grads_seq, hp, defaults)
    return {
        n: [NOT_UPDATED.gives(lambda n=n: before[n])]
        + [bug.gives(lambda n=n, params=params: params()[n]) for bug, params in mistakes]
        for n in before
    }


def _what(hp) -> str:
    lr, betas, eps, wd = hp
    return f"Adam(model.parameters(), lr={lr:g}, betas={betas}, eps={eps:g}, weight_decay={wd:g})"


class Run:
    """The student's Adam on a Model in the worker (its own random parameters, or ``state``), and
    the reference's beside it."""

    def __init__(self, student, rng, hp=(0.1, (0.9, 0.999), 1e-8, 0.0), defaults=False, grad_scale=1.0, state=None):
        self.student, self.rng, self.hp, self.defaults, self.grad_scale = student, rng, hp, defaults, grad_scale
        self.model = Model(student, rng, state=state)
        self.start = dict(self.model.current())
        lr, betas, eps, wd = hp
        if defaults:
            self.what = "Adam(model.parameters())"
            self.opt = student.call(student.ref("Adam"), self.model.generator(), _what=self.what)
        else:
            self.what = _what(hp)
            self.opt = student.call(
                student.ref("Adam"),
                self.model.generator(),
                lr=lr,
                betas=betas,
                eps=eps,
                weight_decay=wd,
                _what=self.what,
            )
        check(
            isinstance(self.opt, Handle) and "Tensor" not in self.opt.type,
            f"{self.what} did not make an optimizer object",
            NOT_AN_OPTIMIZER,
        )
        self.reference = reference.Adam(self.start, lr=lr, betas=betas, eps=eps, weight_decay=wd)
        self.grads_seq = []

    @property
    def inputs(self) -> str:
        scale = "" if self.grad_scale == 1 else f" × {self.grad_scale:g}"
        return f"{self.model.inputs}; every .grad set to normal values{scale} before each step"

    def step(self, grads=None):
        """Give new gradients (random ones unless ``grads`` are given), step the student's Adam and the
        reference's, compare every parameter."""
        model = self.model
        before = dict(model.current())
        grads = model.set_grads(
            self.rng,
            values=grads
            or {
                n: randn(self.rng, tuple(model.local[n].shape), model.dtype, scale=self.grad_scale) for n in model.names
            },
        )
        self.grads_seq.append(grads)
        k = len(self.grads_seq)
        what = f"step {k} of {self.what}"
        _, info = call_checked(
            self.student,
            self.opt.attr("step"),
            _what=f"{self.what}.step() (step {k})",
            errors=STEP_ERRORS,
            _inspect=model.handle,
        )
        model._take(info)
        expected = self.reference.step(grads)
        catalogue = _catalogue(before, self.start, self.grads_seq, self.hp, self.defaults)
        allowed = ROUNDING.at(model.dtype)
        for n in model.names:
            check(n in model.last, f"after {what} the model has no parameter {n}", UPDATE)
            got = expect_tensor(model.last[n], f"the parameter {n}")
            variants = catalogue[n]
            compare(
                got,
                expected[n].to(model.dtype),
                what=f"parameter {n} after {what}",
                inputs=self.inputs,
                dtype=model.dtype,
                tolerance=allowed,
                diagnose=lambda g, n=n, variants=variants: name_bug(g, expected[n], variants, allowed) or UPDATE,
            )


def _one_step_inputs(rng):
    """The model's parameters, then their gradients, drawn from rng in this order, and what they are."""
    state = {}
    for k, (n_in, n_out) in enumerate(LAYERS):
        state[f"{k}.weight"], state[f"{k}.bias"] = randn(rng, (n_out, n_in)), randn(rng, (n_out,))
    grads = {n: randn(rng, tuple(t.shape)) for n, t in state.items()}
    label = "nn.Sequential(" + ", ".join(f"nn.Linear({i}, {o})" for i, o in LAYERS) + ")"
    return state, grads, f"{label}, float32 on cpu, random weights and biases; every .grad set to normal values"


ONE_STEP_HP = (0.1, (0.9, 0.999), 1e-8, 0.0)

# The visible test's inputs, declared once: the test makes them from here, and so does the student
# edition (grade release stores them, the reference's parameters after the step and the catalogue's, as data).
ONE_STEP = VisibleStep(
    test="test_one_step",
    cls="Adam",
    what=_what(ONE_STEP_HP),
    layers=tuple(LAYERS),
    inputs=_one_step_inputs,
    options=dict(zip(("lr", "betas", "eps", "weight_decay"), ONE_STEP_HP)),
    expected=lambda state, grads: {n: t.float() for n, t in reference.Adam(state, *ONE_STEP_HP).step(grads).items()},
    variants=lambda state, grads: _catalogue(state, state, [grads], ONE_STEP_HP, False),
    hint=UPDATE,
    errors=STEP_ERRORS,
)


@pytest.mark.points(2)
@pytest.mark.visible
def test_one_step(student, rng):
    """one step() changes every parameter as torch.optim.Adam does (lr=0.1)"""
    state, grads, _ = ONE_STEP.make(rng)
    Run(student, rng, hp=ONE_STEP_HP, state=state).step(grads)


@pytest.mark.points(2)
def test_several_steps(student, rng):
    """five steps with new gradients each follow torch.optim.Adam (lr=0.01, betas=(0.8, 0.99))"""
    run = Run(student, rng, hp=(0.01, (0.8, 0.99), 1e-8, 0.0))
    for _ in range(5):
        run.step()


@pytest.mark.points(1.5)
def test_large_eps(student, rng):
    """with eps=0.1 and gradients of about 0.1, three steps follow torch.optim.Adam (where eps sits matters)"""
    run = Run(student, rng, hp=(0.05, (0.9, 0.999), 0.1, 0.0), grad_scale=0.1)
    for _ in range(3):
        run.step()


@pytest.mark.points(1)
def test_weight_decay(student, rng):
    """with weight_decay=0.1, three steps follow torch.optim.Adam (the decay added to the gradient)"""
    run = Run(student, rng, hp=(0.02, (0.9, 0.999), 1e-8, 0.1), grad_scale=0.1)
    for _ in range(3):
        run.step()


@pytest.mark.points(1.5)
def test_defaults(student, rng):
    """Adam(model.parameters()) uses lr=1e-3, betas=(0.9, 0.999), eps=1e-8 and no weight decay (three steps)"""
    run = Run(student, rng, hp=(1e-3, (0.9, 0.999), 1e-8, 0.0), defaults=True, grad_scale=0.01)
    for _ in range(3):
        run.step()


@pytest.mark.points(1)
def test_two_optimizers(student, rng):
    """two Adam objects on two models, stepped in turn, keep their own state: each follows torch.optim.Adam"""
    first = Run(student, rng, hp=(0.05, (0.9, 0.999), 1e-8, 0.0))
    second = Run(student, rng, hp=(0.05, (0.9, 0.999), 1e-8, 0.0))
    for _ in range(3):
        first.step()
        second.step()


@pytest.mark.points(1)
def test_zero_grad(student, rng):
    """zero_grad() leaves every gradient None or zero, and the parameters unchanged"""
    run = Run(student, rng)
    model = run.model
    model.set_grads(rng)
    before = dict(model.current())
    _, info = call_checked(student, run.opt.attr("zero_grad"), _what=f"{run.what}.zero_grad()", _inspect=model.handle)
    model._take(info)
    for n in model.names:
        compare(
            model.last.get(n),
            before[n],
            what=f"parameter {n} after {run.what}.zero_grad()",
            inputs=model.inputs,
            dtype=model.dtype,
            tolerance=EXACT,
            diagnose=lambda g: ZERO_HINT,
        )
    grads = read_values(student, [model.handles[n].attr("grad") for n in model.names], "reading the .grads")
    for n, g in zip(model.names, grads):
        if g is not None:
            g = expect_tensor(g, f"the .grad of parameter {n} after {run.what}.zero_grad()")
            compare(
                g,
                torch.zeros(g.shape, dtype=g.dtype),
                what=f"the .grad of parameter {n} after zero_grad()",
                inputs=model.inputs + "; every .grad set to normal values",
                dtype=g.dtype,
                tolerance=EXACT,
                diagnose=lambda _g: ZERO_HINT,
            )
