"""Hidden suite for exercise 3: mean cross-entropy, as a function and as an nn.Module."""

import math

import pytest
import torch

import reference
from grader.suites.common import (
    DTYPES,
    ROUNDING,
    SAME_RATIO,
    Failure,
    Misconception,
    VisibleCall,
    assert_close,
    assert_unchanged,
    call_checked,
    check,
    check_follows_device,
    compare,
    describe,
    expect_tensor,
    magnitude,
    name_bug,
    naming_errors,
    probe,
    randint,
    randn,
    right_on,
    shape_str,
)
from grader.transport.student import StudentError

CASES = {"n1": (1, 5), "n13": (13, 4), "n64": (64, 10), "n100": (100, 7), "k1": (6, 1)}
WHAT = "cross_entropy(logits, targets)"

FORMULA = (
    "loss = -mean_i log_softmax(logits)[i, targets[i]], with log_softmax(v) = (v - m) - "
    "log(sum(exp(v - m))) per row and m = v.max(dim=-1, keepdim=True).values"
)

# The likely bugs, recognised from the numbers a submission returns.
NO_MAX = Misconception(
    "no max",
    (
        "exp() overflowed (exp(1000.) is inf) or every exp() underflowed to 0 and log(0) = -inf: subtract "
        "each row's max m before exp, or use torch.logsumexp."
    ),
)
LOG_OF_SOFTMAX = Misconception(
    "log",
    (
        "This looks like log(softmax(logits)): the probability of a far-away class, exp(-1000), "
        "underflows to 0 and log(0) = -inf. Stay in log space: (z - m) - log(sum(exp(z - m)))."
    ),
)
LOG_OF_SOFTMAX_NO_MAX = Misconception(
    "log", LOG_OF_SOFTMAX.hint + " Subtract the row max before exp() as well: exp(1000.) is inf."
)
COLUMN_PICK = Misconception(
    "columns",
    (
        "logits[:, targets] (or log_probs[:, targets]) picks an (n, n) block, every target for every "
        "row. Take one entry per row: log_probs[torch.arange(n), targets]."
    ),
)
NO_LSE = Misconception(
    "no lse",
    (
        "The log-sum-exp term is missing: the log-probability of class j is z_j - log(sum_l exp(z_l)) "
        "(z = the row minus its max), not the raw score z_j."
    ),
)
WRONG_DIM = Misconception(
    "dim",
    (
        "You normalise over dim=0 (the batch); the classes are along the LAST dimension: reduce with "
        "dim=-1 (or dim=1), keepdim=True."
    ),
)
WHOLE_TENSOR = Misconception(
    "whole",
    (
        "You take the log-sum-exp over the whole tensor; each row is normalised over its own k classes: "
        "torch.logsumexp(z, dim=-1, keepdim=True)."
    ),
)
NO_KEEPDIM = Misconception(
    "keepdim",
    (
        "The row max or log-sum-exp lost its dimension, so it broadcast against the wrong axis: reduce "
        "with keepdim=True."
    ),
)
# ... and from the shape or the size of the loss
PER_SAMPLE = (
    "You return one loss per sample; the loss is their mean over the batch: finish with .mean() "
    "so that the result is a 0-dim tensor (shape ())."
)
NOT_0DIM = (
    "The loss must be a 0-dim tensor (shape ()), the mean over the batch: .mean() over the n "
    "per-sample losses gives one; don't reshape it or keep the dimension."
)
SUMMED = "You summed the per-sample losses; the loss is their MEAN over the batch: use .mean(), not .sum()."
NEGATED = "The sign is flipped: the loss is MINUS the mean log-probability of the target class (it is >= 0)."
NO_GRADIENT = (
    "Build the loss from the logits with torch operations only: no .item(), .detach(), .data, "
    "torch.tensor(...) or .numpy() on the way, or autograd cannot reach the logits."
)
WRONG_GRADIENT = (
    "The loss is right but its gradient is not, so part of the computation is cut off from "
    "autograd (.detach(), .data, torch.no_grad(), or a value turned into a Python number) or "
    "changed in place. The gradient should be (softmax(logits) - one_hot(targets)) / n."
)


def _divided_hint(c: int, n: int, k: int) -> str:
    if c == n * k:
        return (
            "You averaged over all n·k entries (e.g. (one_hot * log_probs).mean()); sum over the k classes "
            "and average over the n samples only."
        )
    return (
        f"You divide by {c}, not by the batch size n: a hard-coded batch size? Use logits.shape[0] "
        "or .mean() over the n per-sample losses."
    )


def _log_probs(H, dim=-1, keepdim=True):
    z = H - H.amax(dim, keepdim=True)
    return z - torch.log(torch.exp(z).sum(dim, keepdim=keepdim))


def _buggy_versions(H: torch.Tensor, Y: torch.Tensor):
    """What each bug's loss is on (H, Y), in H's dtype so overflow shows the same way.
    Versions of one bug share its name; the first matching version gives its hint."""
    n = H.shape[0]
    rows = torch.arange(n)
    m = H.amax(-1, keepdim=True)
    yield NO_MAX.gives(lambda: -(H - torch.log(torch.exp(H).sum(-1, keepdim=True)))[rows, Y].mean())
    yield LOG_OF_SOFTMAX.gives(lambda: -torch.log(torch.softmax(H, -1))[rows, Y].mean())
    yield LOG_OF_SOFTMAX_NO_MAX.gives(
        lambda: -torch.log(torch.exp(H) / torch.exp(H).sum(-1, keepdim=True))[rows, Y].mean()
    )
    yield COLUMN_PICK.gives(lambda: -_log_probs(H)[:, Y].mean())
    yield COLUMN_PICK.gives(lambda: -_log_probs(H)[:, Y].sum() / n)
    yield COLUMN_PICK.gives(lambda: -_log_probs(H)[:, Y].sum())
    yield NO_LSE.gives(lambda: -H[rows, Y].mean())
    yield NO_LSE.gives(lambda: -(H - m)[rows, Y].mean())
    yield WRONG_DIM.gives(lambda: -_log_probs(H, 0)[rows, Y].mean())
    yield WHOLE_TENSOR.gives(lambda: -(H - torch.logsumexp(H.reshape(-1), 0))[rows, Y].mean())
    yield NO_KEEPDIM.gives(lambda: -_log_probs(H, -1, keepdim=False)[rows, Y].mean())
    yield NO_KEEPDIM.gives(
        lambda: -(H - H.amax(-1) - torch.logsumexp(H - H.amax(-1), -1, keepdim=True))[rows, Y].mean()
    )


def _ratio_hint(v: float, e: float, n: int, k: int):
    """The loss is off by a factor: summed, negated or divided by the wrong count."""
    if abs(e) <= 1e-3 or not math.isfinite(v):
        return None
    r = v / e
    if n > 1 and SAME_RATIO.allows(r, n):
        return SUMMED
    if SAME_RATIO.allows(r, -1):
        return NEGATED
    if r > 0:
        c = n / r
        if SAME_RATIO.allows(round(c), c) and round(c) not in (0, n):
            return _divided_hint(round(c), n, k)
    return None


ALSO_UNSTABLE = (
    " Also: on far-apart logits (rows like [0, -1000, 5]) your loss is nan or inf, so the "
    "log-probabilities are not computed stably (log(softmax(...)) or exp() without the row max): "
    "stay in log space, (z - m) - log(sum(exp(z - m))) with m the row max."
)


def _also_unstable(student, fn, dtype, device) -> str:
    """A second, independent mistake hidden behind a scaling one: one probe call on far-apart logits,
    where the reference is finite; a loss that is nan or inf there is computed unstably."""
    H = torch.tensor([[0.0, -1000.0, 5.0], [1000.0, 0.0, -1000.0]], dtype=dtype, device=device)
    Y = torch.tensor([1, 2], device=device)
    try:
        got = student.call(fn, H, Y, _what="a probe")
    except StudentError as e:
        if e.kind in StudentError.RUN_KINDS:
            raise
        return ""
    if isinstance(got, torch.Tensor) and got.is_floating_point() and not bool(torch.isfinite(got.detach()).all()):
        return ALSO_UNSTABLE
    return ""


def _diagnose(student, fn, got, H, Y, expected, tolerance, prefer=None, probing=True):
    """A hint naming the bug behind the loss ``got`` on (H, Y) (None: the student's code raised), or None;
    ``prefer`` names the bug this input is built to expose, when others give the same numbers."""
    n, k = H.shape
    Hc, Yc = H.detach().cpu(), Y.detach().cpu()
    if got is not None and got.dim() != 0:
        if tuple(got.shape) == (n, n) and n > 1:
            return COLUMN_PICK.hint
        if tuple(got.shape) in ((n,), (n, 1), (1, n)) and (n > 1 or tuple(got.shape) == (1,)):
            return PER_SAMPLE
        return NOT_0DIM if got.numel() == 1 else None
    hint = got is not None and (
        name_bug(got, expected, _buggy_versions(Hc, Yc), tolerance, prefer)
        or _ratio_hint(float(got), float(expected), n, k)
    )
    if hint and probing and (hint == SUMMED or hint.startswith("You divide by") or hint.startswith("You averaged")):
        hint += _also_unstable(student, fn, H.dtype, H.device)
    if not hint and probing:
        hint = probe(
            lambda rows: right_on(
                student,
                fn,
                [Hc[rows].to(H.device), Yc[rows].to(Y.device)],
                reference.cross_entropy(Hc[rows].double(), Yc[rows]).to(H.dtype),
                tolerance,
            ),
            tuple(H.shape),
        )
    if hint or got is None:
        return hint or None
    if not math.isfinite(float(got)):
        return (
            NO_MAX.hint
            if Hc.abs().max() > 80
            else "The loss is nan or inf although the logits are moderate. " + FORMULA
        )
    return "Check each part of the formula: " + FORMULA


def _diagnoser(student, fn, H, Y, tolerance, prefer=None, probing=True):
    """diagnose(got) for the student's loss fn on (H, Y); see _diagnose."""
    expected = reference.cross_entropy(H.detach().cpu().double(), Y.detach().cpu())
    return lambda got: _diagnose(student, fn, got, H, Y, expected, tolerance, prefer, probing)


def _compare(
    student,
    fn,
    got,
    H,
    Y,
    how,
    device,
    tolerance,
    what=WHAT,
    prefer=None,
    yhow="random classes in [0, k)",
    probing=True,
):
    """Compare a loss from the student with the reference on (H, Y) within the preset ``tolerance``
    at the logits' dtype and magnitude, and explain a failure."""
    expected = reference.cross_entropy(H.detach().cpu().double(), Y.detach().cpu())
    allowed = tolerance.at(H.dtype, magnitude(H))
    inputs = describe("logits", H, how) + "; " + describe("targets", Y, yhow)
    compare(
        got,
        expected,
        diagnose=_diagnoser(student, fn, H, Y, allowed, prefer, probing),
        what=what,
        inputs=inputs,
        dtype=H.dtype,
        device=device,
        rtol=allowed.rtol,
        atol=allowed.atol,
    )


def _data(rng, n, k, dtype=torch.float32, device="cpu", scale=3.0):
    return randn(rng, (n, k), dtype, device, scale=scale), randint(rng, k, (n,), device)


def _check(
    student, H, Y, how, device, tolerance, prefer=None, yhow="random classes in [0, k)", probing=True, return_args=False
):
    """The student's cross_entropy(H, Y) against the reference (see _compare)."""
    fn = student.ref("cross_entropy")
    allowed = tolerance.at(H.dtype, magnitude(H))
    got = call_checked(
        student,
        fn,
        H,
        Y,
        _what=WHAT,
        _return_args=return_args,
        diagnose=_diagnoser(student, fn, H, Y, allowed, prefer, probing),
    )
    _compare(
        student,
        fn,
        got[0] if return_args else got,
        H,
        Y,
        how,
        device,
        tolerance,
        prefer=prefer,
        yhow=yhow,
        probing=probing,
    )
    return got


def _check_grad(student, fn, H, Y, what, tolerance):
    """The loss, then its gradient w.r.t. the logits, equal the reference's within the preset ``tolerance``."""
    allowed = tolerance.at(H.dtype, magnitude(H))
    with naming_errors(_diagnoser(student, fn, H, Y, allowed)):
        out, grads, _ = student.vjp(fn, [H, Y], wrt=(0,), _what=f"backward through {what}")
    _compare(student, fn, out, H, Y, "normal values × 3", "cpu", tolerance, what=what)
    inputs = describe("logits", H, "normal values × 3") + "; " + describe("targets", Y)
    grad = grads[0] if grads else None
    check(
        grad is not None,
        f"backward through {what} gave no gradient for the logits (the loss is not connected to them)\n"
        f"  input: {inputs}",
        NO_GRADIENT,
    )
    x = H.detach().cpu().double().requires_grad_()
    reference.cross_entropy(x, Y.detach().cpu()).backward()
    assert_close(
        grad,
        x.grad,
        what=f"the gradient of {what} w.r.t. the logits",
        inputs=inputs,
        dtype=H.dtype,
        rtol=allowed.rtol,
        atol=allowed.atol,
        hint=WRONG_GRADIENT,
    )


@pytest.mark.points(2.5)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n, k", CASES.values(), ids=CASES.keys())
def test_matches_reference(student, rng, n, k, dtype, device):
    """cross_entropy matches the reference for several batch sizes and class counts"""
    H, Y = _data(rng, n, k, dtype, device)
    _check(student, H, Y, "normal values × 3", device, ROUNDING)


@pytest.mark.points(0.5)
def test_returns_0dim_tensor(student, rng):
    """cross_entropy returns a 0-dim tensor: the mean over the batch"""
    H, Y = _data(rng, 9, 4)
    fn = student.ref("cross_entropy")
    diagnose = _diagnoser(student, fn, H, Y, ROUNDING.at(H.dtype, magnitude(H)))
    got = expect_tensor(call_checked(student, fn, H, Y, _what=WHAT, diagnose=diagnose), WHAT)
    if got.dim() != 0:
        g = got.detach().double()
        hint = PER_SAMPLE if got.numel() > 1 else NOT_0DIM
        if tuple(got.shape) == (9, 9):
            hint = COLUMN_PICK.hint
        raise Failure(
            f"{WHAT} returned shape {shape_str(got.shape)}, expected a 0-dim tensor (shape ())\n"
            f"  input: {describe('logits', H, 'normal values × 3')}; {describe('targets', Y)}"
            + (f"\n  the mean of what you returned is {g.mean().item():.6g}" if g.numel() > 1 else ""),
            hint,
        )
    _compare(student, fn, got, H, Y, "normal values × 3", "cpu", ROUNDING)


@pytest.mark.points(1)
@pytest.mark.parametrize("dtype", DTYPES)
def test_large_logits(student, rng, dtype, device):
    """cross_entropy stays finite and correct for logits around ±1000"""
    H, Y = _data(rng, 6, 5, dtype, device, scale=1000.0)
    _check(student, H, Y, "normal values × 1000", device, ROUNDING)


@pytest.mark.points(0.5)
def test_shifted_logits(student, rng, device):
    """cross_entropy of rows that all lie near +1000 or near -1000"""
    offsets = torch.tensor([[1000.0], [-1000.0], [750.0], [-750.0]], dtype=torch.float64)
    H = (randn(rng, (4, 5), torch.float64, scale=3.0) + offsets).float().to(device)
    Y = randint(rng, 5, (4,), device)
    _check(student, H, Y, "rows of normal values × 3 plus 1000, -1000, 750 and -750", device, ROUNDING, prefer=NO_MAX)


# the visible test's inputs, declared once: the test below makes them from here, and so does the
# student edition (grade release stores them with the reference's result, as data)
FAR_APART = VisibleCall(
    test="test_far_apart_logits",
    fn="cross_entropy",
    what=WHAT,
    inputs=lambda rng, dtype, device: (
        [
            torch.tensor(
                [[0.0, -1000.0, -1000.0], [0.0, -1000.0, 0.0], [-500.0, 0.0, -1000.0], [0.0, -1000.0, -1000.0]],
                dtype=dtype,
                device=device,
            ),
            torch.tensor([1, 2, 0, 0], device=device),
        ],
        ("rows [0, -1000, -1000], [0, -1000, 0], [-500, 0, -1000], [0, -1000, -1000]", "[1, 2, 0, 0]"),
    ),
    expected=lambda H, Y: reference.cross_entropy(H.double(), Y),
    describe=lambda H, Y, how: f"{describe('logits', H, how[0])}; {describe('targets', Y, how[1])}",
    scale=lambda H, Y: magnitude(H),
    variants=_buggy_versions,
    prefer=LOG_OF_SOFTMAX,
    hint="Check each part of the formula: " + FORMULA,
    hint_nonfinite=NO_MAX.hint,
)


@pytest.mark.visible
@pytest.mark.points(1.5)
@pytest.mark.parametrize("dtype", DTYPES)
def test_far_apart_logits(student, dtype, device):
    """cross_entropy stays finite when the target's probability underflows, e.g. logits [0, -1000]"""
    (H, Y), (how, yhow) = FAR_APART.make(dtype=dtype, device=device)
    # visible: no probe calls, so the student's last call is this input
    _check(student, H, Y, how, device, ROUNDING, prefer=LOG_OF_SOFTMAX, yhow=yhow, probing=False)


@pytest.mark.points(0.5)
def test_inputs_not_modified(student, rng):
    """cross_entropy gives the right result and leaves the logits and the targets unchanged"""
    H, Y = _data(rng, 8, 5)
    _, args = _check(student, H, Y, "normal values × 3", "cpu", ROUNDING, return_args=True)
    assert_unchanged(args[0], H, what=WHAT, name="the logits")
    assert_unchanged(args[1], Y, what=WHAT, name="the targets")


@pytest.mark.points(1.5)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gradient(student, rng, dtype):
    """the gradient of cross_entropy w.r.t. the logits matches the reference's"""
    H, Y = _data(rng, 9, 4, dtype)
    _check_grad(student, student.ref("cross_entropy"), H, Y, WHAT, ROUNDING)


@pytest.mark.points(0.5)
def test_module_matches_function(student, rng, device):
    """CrossEntropyLoss()(H, Y) returns the mean cross-entropy"""
    m = student.call(student.ref("CrossEntropyLoss"), _what="CrossEntropyLoss()")
    H, Y = _data(rng, 64, 10, torch.float32, device)
    got = student.call(m, H, Y, _what="CrossEntropyLoss()(H, Y)")
    _compare(student, m, got, H, Y, "normal values × 3", device, ROUNDING, what="CrossEntropyLoss()(H, Y)")


@pytest.mark.points(0.5)
def test_module_is_parameterless_module(student, rng):
    """CrossEntropyLoss is an nn.Module without parameters whose loss has the right gradient"""
    what = "CrossEntropyLoss()(H, Y)"
    m = student.call(student.ref("CrossEntropyLoss"), _what="CrossEntropyLoss()")
    H, Y = _data(rng, 7, 3, torch.float64)
    _check_grad(student, m, H, Y, what, ROUNDING)
    info = student.inspect(m, _what="inspecting CrossEntropyLoss()")
    check(
        info.get("is_module", False),
        f"CrossEntropyLoss() is a {info.get('type')}, not a torch.nn.Module",
        "Write `class CrossEntropyLoss(nn.Module):` with a forward(self, H, Y) method; if you write __init__, "
        "call super().__init__() first.",
    )
    params = [p[0] for p in info.get("params", [])]
    check(
        not params,
        f"CrossEntropyLoss() has parameters ({', '.join(params)}); a loss has none",
        "A loss has nothing to learn: don't create nn.Parameter (or nn.Linear, ...) in it; the optimizer "
        "would otherwise update them.",
    )


@pytest.mark.points(1)
def test_follows_input_device(student, rng):
    """cross_entropy makes its result on the input's device (checked without a GPU)"""
    H, Y = randn(rng, (5, 4), scale=3.0), randint(rng, 4, (5,))
    check_follows_device(
        student,
        student.ref("cross_entropy"),
        [H, Y],
        reference.cross_entropy(H.double(), Y).float(),
        WHAT,
        ["logits", "targets"],
        tolerance=ROUNDING,
    )
