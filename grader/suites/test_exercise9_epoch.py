"""Hidden suite for exercise 9: the 0-1 loss and one epoch of training or evaluation.

``epoch`` is run in the worker on a torch model (nn.Sequential(nn.Linear,
nn.ReLU, nn.Linear), built there from a state chosen here: grader/suites/epoch_model.py)
with torch.optim.SGD, so the exercise is graded on its own.  The same state goes
through ``reference.epoch`` here with a local torch model and optimizer; the
returned figures and the final parameters must agree.  When they don't, a few
locally computed wrong variants (no zero_grad, sample-weighted means, the
whole set as one batch, ...: grader/suites/epoch_mistakes.py) are tried, and
the one that matches the student's result names the likely mistake.
"""

import pytest
import torch

import reference
from grader.suites.common import (
    FRACTION,
    SAME_FIGURES,
    SAME_NUMBERS_FINE,
    TRAINING_FLOAT32,
    TRAINING_FLOAT64,
    ErrorHint,
    Failure,
    Misconception,
    VisibleNumber,
    assert_close,
    assert_unchanged,
    call_checked,
    check,
    describe,
    expect_float,
    expect_tensor,
    join,
    randint,
    randn,
    shape_str,
)
from grader.suites.epoch_mistakes import VARIANT_HINTS, WrongLoops
from grader.suites.epoch_model import IN, K, Net
from grader.transport.student import StudentError
from grader.verdicts.batching import params_by_name
from grader.wire.codec import Handle

# the visible test's inputs, declared once: the test makes them from here, and so does the student
# edition (grade release stores them with the reference's number, as data)
LOSS_01_SMALL = VisibleNumber(
    test="test_loss_01_small",
    fn="loss_01",
    what="loss_01(H, Y)",
    inputs=lambda rng: (
        [
            torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [0.0, 2.0, 1.0], [4.0, 1.0, 2.0]]),
            torch.tensor([0, 2, 2, 1, 1]),
        ],
        "H = [[2, 1, 0], [0, 3, 1], [1, 0, 5], [0, 2, 1], [4, 1, 2]]; Y = [0, 2, 2, 1, 1]",
    ),
    expected=reference.loss_01,
    tolerance=FRACTION,
    hint="loss_01 is the fraction of rows whose argmax (dim=1) differs from the label, as a float.",
)

FIGURES_HINT = (
    "For every batch X = X_full[i:i+batch_size] (i = 0, batch_size, 2*batch_size, ...): H = model(X), "
    "loss = F.cross_entropy(H, Y); record loss_01(H, Y) and loss.item(); return the two averages over "
    "batches."
)
TRAIN_HINT = (
    "With an optimizer, every batch does opt.zero_grad(), loss.backward(), opt.step() in this order, on "
    "the loss of that batch."
)
# What an error raised by the student's code says, and the hint that names the bug.
ERRORS = (
    ErrorHint(
        "modified by an inplace operation",
        "opt.step() ran before loss.backward(): step changes the "
        "parameters in place, and this batch's backward still needs their old values. In every batch: "
        "opt.zero_grad(), loss.backward(), then opt.step().",
    ),
    ErrorHint(
        "must match the size of tensor",
        "The predictions and the labels have different lengths: the "
        "prediction for each sample (row) is `H.argmax(dim=1)`, one per row, like Y.",
    ),
    ErrorHint(
        "division by zero",
        "No batch was processed: with range(0, X_full.shape[0], batch_size) there is "
        "always at least one batch (the whole set when batch_size is larger than it).",
    ),
)
EVAL_TRAINS_HINT = (
    "With opt=None the model's parameters changed: evaluate only. Don't create an optimizer or "
    "update anything when opt is None (`if opt is not None:` around zero_grad/backward/step)."
)


# ---------------------------------------------------------------------------
# the data


def _data(rng, n, dtype=torch.float64):
    """n samples with labels that depend on the inputs (plus noise), so training changes the figures."""
    X = randn(rng, (n, IN), dtype)
    W = randn(rng, (IN, K), torch.float64)
    Y = (X.double() @ W + 0.5 * randn(rng, (n, K), torch.float64)).argmax(dim=1)
    return X, Y


class Run:
    """One call of the student's epoch and everything needed to judge it."""

    def __init__(
        self,
        student,
        net,
        X,
        Y,
        bs=None,
        lr=None,
        momentum=0.0,
        epochs=1,
        pass_opt=True,
        *,
        tolerance,
        fallback=None,
        separate_opt=False,
    ):
        self.student, self.net, self.X, self.Y = student, net, X, Y
        self.fallback = fallback
        self.bs, self.lr, self.momentum, self.epochs = bs, lr, momentum, epochs
        self.tolerance = tolerance
        self.model, self.opt = net.build(student, lr, momentum, separate_opt=separate_opt or epochs > 1)
        args = [self.model, X, Y]
        if pass_opt:
            args.append(self.opt)
        kwargs = {} if bs is None else {"batch_size": bs}
        call = (
            "epoch(model, X_full, Y_full"
            + ("" if not pass_opt else ", opt" if lr is not None else ", None")
            + ("" if bs is None else f", batch_size={bs}")
            + ")"
        )
        self.what = call if epochs == 1 else f"the second of two calls {call}"
        self.inputs = (
            f"{net.describe(lr, momentum)}; {describe('X_full', X, 'randn')}; "
            f"Y_full: {X.shape[0]} labels in 0..{K - 1}"
            + ("" if bs is None else f"; batch_size={bs}")
            + self._batches()
        )
        for _ in range(epochs - 1):
            call_checked(student, student.ref("epoch"), *args, _what=call, errors=ERRORS, **kwargs)
        # the last call reads the model's parameters after it, in the same request
        self.value, info = call_checked(
            student, student.ref("epoch"), *args, _what=call, errors=ERRORS, _inspect=self.model, **kwargs
        )
        self._params = params_by_name(info)
        # the reference
        model, opt = net.local(lr, momentum)
        for _ in range(epochs):
            self.expected = reference.epoch(model, X, Y, opt, 100 if bs is None else bs)
        self.expected_params = {n: p.detach().clone() for n, p in model.named_parameters()}
        self.variants = WrongLoops(net, X, Y, bs, lr, momentum, epochs, train=self.opt is not None)

    def _batches(self) -> str:
        n, bs = self.X.shape[0], self.bs or 100
        sizes = [min(bs, n - i) for i in range(0, n, bs)]
        if len(sizes) > 6:
            return f" ({len(sizes)} batches)"
        return f" (batches of {', '.join(map(str, sizes))})"

    def figures(self):
        """The two returned numbers as floats, after checking the return value's form."""
        v = self.value
        if isinstance(v, Handle) or not isinstance(v, (tuple, list)) or len(v) != 2:
            got = (
                "None"
                if v is None
                else (
                    f"a tensor of shape {shape_str(v.shape)}"
                    if isinstance(v, torch.Tensor)
                    else f"a {type(v).__name__}"
                    if not isinstance(v, Handle)
                    else v.type
                )
            )
            if isinstance(v, (tuple, list)):
                got = f"a {type(v).__name__} of {len(v)} values"
            raise Failure(
                f"{self.what} returned {got}, expected a tuple (mean_error, mean_loss)",
                "Return both figures: `return total_error / n_batches, total_loss / n_batches`.",
            )
        return (
            expect_float(v[0], f"{self.what}: the mean error (first value)"),
            expect_float(v[1], f"{self.what}: the mean loss (second value)"),
        )

    def _hint(self, matches, fallback) -> str:
        """The hint naming the fewest mistakes that give the student's result (each of them), else ``fallback``."""
        return self.variants.hint(matches, fallback)

    def check_figures(self):
        err, loss = self.figures()
        e_err, e_loss = self.expected
        fallback = self.fallback or (TRAIN_HINT + " " + FIGURES_HINT if self.opt is not None else FIGURES_HINT)
        right = self.tolerance.allows
        loss_ok = right(loss, e_loss)
        for name, got, exp in (("mean error", err, e_err), ("mean loss", loss, e_loss)):
            if right(got, exp):
                continue
            if self.opt is None and self._params_changed():
                hint = EVAL_TRAINS_HINT
            else:
                if name == "mean error" and loss_ok:
                    fallback = (
                        "The mean loss is right but the mean error is not: check loss_01 (the fraction of "
                        "wrong predictions, `(H.argmax(dim=1) != Y).float().mean().item()`) and average its "
                        "per-batch values over the batches."
                    )
                hint = self._hint(
                    lambda res: (
                        not (right(res[0][0], e_err) and right(res[0][1], e_loss))
                        and SAME_FIGURES.allows(err, res[0][0])
                        and SAME_FIGURES.allows(loss, res[0][1])
                    ),
                    fallback,
                )
            raise Failure(
                f"{self.what} returned a {name} of {got:.8g}, expected {exp:.8g} "
                f"(error {abs(got - exp):.3g})\n  input: {self.inputs}",
                hint,
            )

    def _params_changed(self) -> bool:
        got = self.params()
        return any(
            not (isinstance(got.get(n), torch.Tensor) and torch.equal(got[n], t)) for n, t in self.net.state.items()
        )

    def params(self) -> dict:
        """The model's parameters after the student's (last) epoch call, read by that call's request."""
        return self._params

    def check_params(self):
        got = self.params()
        what = f"{self.what}" + (" (training)" if self.opt is not None else " (evaluation)")
        if self.opt is None:
            for n, t in self.net.state.items():
                if not torch.equal(expect_tensor(got.get(n), f"the model's {n}"), t):
                    raise Failure(
                        f"{what} changed the model's parameter {n}; with opt=None no parameter may "
                        f"change\n  input: {self.inputs}",
                        EVAL_TRAINS_HINT,
                    )
            return
        changed = any(
            not torch.equal(expect_tensor(got.get(n), f"the model's {n}"), t) for n, t in self.net.state.items()
        )
        if not changed:
            raise Failure(
                f"after {what} no parameter of the model changed\n  input: {self.inputs}", VARIANT_HINTS["no_update"]
            )
        for n, exp in self.expected_params.items():

            def same(res, n=n, exp=exp):
                return not self.tolerance.allows(res[1][n], exp) and SAME_NUMBERS_FINE.allows(
                    got[n].double(), res[1][n].double()
                )

            g = expect_tensor(got.get(n), f"the model's {n}")
            if self.tolerance.allows(g.double(), exp.double()):
                continue
            assert_close(
                g,
                exp,
                what=f"the model's parameter {n} after {what}",
                inputs=self.inputs,
                tolerance=self.tolerance,
                dtype=self.net.dtype,
                hint=self._hint(same, self.fallback or TRAIN_HINT),
            )


# ---------------------------------------------------------------------------
# loss_01


def _loss01_case(rng, case):
    if case == "all_right":
        H = randn(rng, (8, 5))
        return H, H.argmax(dim=1)
    if case == "all_wrong":
        H = randn(rng, (8, 5))
        return H, (H.argmax(dim=1) + 1) % 5
    if case == "3_of_8_wrong":
        H = randn(rng, (8, 5))
        Y = H.argmax(dim=1)
        Y[[1, 4, 6]] = (Y[[1, 4, 6]] + 2) % 5
        return H, Y
    if case == "square_6x6":
        H = randn(rng, (6, 6))
        Y = H.argmax(dim=1)
        Y[[0, 3]] = (Y[[0, 3]] + 1) % 6
        return H, Y
    H = randn(rng, (50, 10))
    return H, randint(rng, 10, (50,))


# The likely bugs in loss_01, recognised from the number a submission returns.
ACCURACY = Misconception(
    "accuracy", "This is the accuracy: loss_01 is the fraction of WRONG predictions, `(H.argmax(dim=1) != Y)`."
)
WRONG_COUNT = Misconception(
    "wrong count",
    "This is the number of wrong predictions: divide by the number of samples (or use `.float().mean()`).",
)
RIGHT_COUNT = Misconception(
    "right count", "This is the number of correct predictions: count the WRONG ones and divide by n."
)
ARGMAX_DIM0 = Misconception(
    "argmax dim 0",
    "The argmax is taken over the wrong dimension: the prediction for each sample (row) is `H.argmax(dim=1)`.",
)
ARGMAX_FLAT = Misconception(
    "flat argmax", "H.argmax() without dim is the index in the flattened tensor: use `H.argmax(dim=1)`."
)


def _buggy_fractions(H, Y, expected):
    """(the misconception, the number it makes of loss_01(H, Y))."""
    n = Y.shape[0]
    yield ACCURACY, 1.0 - expected
    yield WRONG_COUNT, expected * n
    yield RIGHT_COUNT, n - expected * n
    if H.shape[0] == H.shape[1]:
        yield ARGMAX_DIM0, (H.argmax(dim=0) != Y).double().mean().item()
    yield ARGMAX_FLAT, (H.argmax() != Y).double().mean().item()


def _loss01_hint(got, H, Y, expected) -> str:
    """The hint of each bug that gives ``got`` (one that is right here is passed over), else the formula."""
    same = TRAINING_FLOAT64.allows
    return (
        join(
            bug.hint
            for bug, value in _buggy_fractions(H, Y, expected)
            if not same(value, expected) and same(got, value)
        )
        or "loss_01 is `(H.argmax(dim=1) != Y).float().mean().item()`: the fraction of wrong predictions."
    )


CASES = ["all_right", "all_wrong", "3_of_8_wrong", "square_6x6", "random_50x10"]


@pytest.mark.points(1.5)
@pytest.mark.parametrize("case", CASES)
def test_loss_01(student, rng, case):
    """loss_01(H, Y) is the fraction of rows whose argmax differs from the label"""
    H, Y = _loss01_case(rng, case)
    _check_loss01(student, H, Y, f"{describe('H', H, 'randn')}; Y: {Y.shape[0]} labels ({case.replace('_', ' ')})")


@pytest.mark.visible
@pytest.mark.points(0.5)
def test_loss_01_small(student):
    """a small example to work by hand: row argmaxes 0, 1, 2, 1, 0 against labels 0, 2, 2, 1, 1 give 0.4"""
    (H, Y), how = LOSS_01_SMALL.make()
    _check_loss01(student, H, Y, how)


def _check_loss01(student, H, Y, inputs):
    what = "loss_01(H, Y)"
    reply = got = call_checked(student, student.ref("loss_01"), H, Y, _what=what, errors=ERRORS)
    expected = reference.loss_01(H, Y)
    # a failure carries the expected value and the reply, from which a visible test's reproducer is made
    shown = {"expected": torch.tensor(expected), "got": reply}
    if isinstance(got, torch.Tensor) and got.dim() == 0 and not got.is_complex():
        got = got.item()
    elif isinstance(got, torch.Tensor):
        raise Failure(
            f"{what} returned a tensor of shape {shape_str(got.shape)}, expected a number\n  input: {inputs}",
            "Reduce to one number: `(H.argmax(dim=1) != Y).float().mean().item()`.",
            **shown,
        )
    if got is None:
        raise Failure(
            f"{what} returned None, expected a number\n  input: {inputs}",
            "Did you forget the `return` statement?",
            **shown,
        )
    got = expect_float(got, what)
    if not FRACTION.allows(got, expected):
        raise Failure(
            f"{what} returned {got:.6g}, expected {expected:.6g}\n  input: {inputs}",
            _loss01_hint(got, H, Y, expected),
            **shown,
        )


# ---------------------------------------------------------------------------
# evaluation (opt=None)


@pytest.mark.points(1)
def test_eval_figures(student, rng):
    """with opt=None, 230 samples in batches of 50: the mean error and mean loss over batches are right"""
    net = Net(rng)
    X, Y = _data(rng, 230)
    Run(student, net, X, Y, bs=50, tolerance=TRAINING_FLOAT64).check_figures()


@pytest.mark.points(0.5)
def test_eval_leaves_parameters(student, rng):
    """with opt=None the figures are right and no parameter of the model changes"""
    net = Net(rng)
    X, Y = _data(rng, 120)
    run = Run(student, net, X, Y, bs=32, tolerance=TRAINING_FLOAT64)
    run.check_figures()
    run.check_params()


@pytest.mark.points(0.5)
def test_eval_default_batch_size(student, rng):
    """without opt and batch_size (250 samples: batches of 100, 100, 50) the figures are right"""
    net = Net(rng)
    X, Y = _data(rng, 250)
    Run(student, net, X, Y, pass_opt=False, tolerance=TRAINING_FLOAT64).check_figures()


# ---------------------------------------------------------------------------
# training


@pytest.mark.points(1)
def test_train_figures(student, rng):
    """training with torch.optim.SGD (lr 0.1), 230 samples in batches of 50: the returned figures are right"""
    net = Net(rng)
    X, Y = _data(rng, 230)
    Run(student, net, X, Y, bs=50, lr=0.1, tolerance=TRAINING_FLOAT64).check_figures()


@pytest.mark.points(1.25)
def test_train_parameters(student, rng):
    """training with torch.optim.SGD (lr 0.1), 230 samples in batches of 50: the final parameters are right"""
    net = Net(rng)
    X, Y = _data(rng, 230)
    Run(student, net, X, Y, bs=50, lr=0.1, tolerance=TRAINING_FLOAT64).check_params()


OWN_OPTIMIZER_HINT = (
    "The optimizer you were given never stepped: use it (here torch.optim.SGD with momentum 0.9), "
    "opt.zero_grad(), loss.backward(), opt.step() for every batch. Don't create an optimizer of "
    "your own or update the parameters by hand."
)
GIVEN_OPTIMIZER_HINT = (
    "Your code steps the optimizer it was given, but the parameters end up different from "
    "opt.zero_grad(), loss.backward(), opt.step() once per batch X_full[i:i+batch_size], in this "
    "order, on that batch's F.cross_entropy(model(X), Y) (its mean over the batch, not the sum)."
)


def _stepped(student, opt) -> bool | None:
    """Whether torch.optim.SGD ``opt`` (with momentum) has stepped: its momentum buffers exist then."""
    try:
        state = student.call(opt.attr("state_dict"), _what="opt.state_dict()")
    except StudentError:
        return None
    return bool(state.get("state")) if isinstance(state, dict) else None


@pytest.mark.points(0.75)
def test_train_momentum(student, rng):
    """training uses the optimizer it is given (torch.optim.SGD with momentum 0.9): the final parameters"""
    net = Net(rng)
    X, Y = _data(rng, 200)
    run = Run(
        student,
        net,
        X,
        Y,
        bs=32,
        lr=0.05,
        momentum=0.9,
        separate_opt=True,
        fallback=OWN_OPTIMIZER_HINT,
        tolerance=TRAINING_FLOAT64,
    )
    try:
        run.check_params()
    except Failure as f:
        if f.hint != OWN_OPTIMIZER_HINT or not _stepped(student, run.opt):
            raise
        raise Failure(f.message, GIVEN_OPTIMIZER_HINT) from None


BATCHES = {"bs1_n7": (1, 7), "bs64_n230": (64, 230), "bs500_n230": (500, 230)}


def _batch_size_run(student, rng, bs, n) -> Run:
    net = Net(rng)
    X, Y = _data(rng, n)
    return Run(student, net, X, Y, bs=bs, lr=0.1, tolerance=TRAINING_FLOAT64)


@pytest.mark.points(0.75)
@pytest.mark.parametrize("bs,n", BATCHES.values(), ids=BATCHES.keys())
def test_train_batch_sizes(student, rng, bs, n):
    """training with other batch sizes (1, 64, one batch larger than the set): the final parameters"""
    _batch_size_run(student, rng, bs, n).check_params()


@pytest.mark.points(0.5)
@pytest.mark.parametrize("bs,n", BATCHES.values(), ids=BATCHES.keys())
def test_train_batch_sizes_figures(student, rng, bs, n):
    """training with other batch sizes (1, 64, one batch larger than the set): the returned figures"""
    _batch_size_run(student, rng, bs, n).check_figures()


@pytest.mark.points(0.5)
def test_train_float32(student, rng):
    """training a float32 model (the usual case): the final parameters"""
    net = Net(rng, torch.float32)
    X, Y = _data(rng, 150, torch.float32)
    Run(student, net, X, Y, bs=40, lr=0.1, tolerance=TRAINING_FLOAT32).check_params()


@pytest.mark.points(0.75)
def test_two_epochs(student, rng):
    """a second call continues training from where the first one stopped: the final parameters"""
    net = Net(rng)
    X, Y = _data(rng, 130)
    Run(student, net, X, Y, bs=50, lr=0.1, epochs=2, tolerance=TRAINING_FLOAT64).check_params()


@pytest.mark.points(0.5)
def test_inputs_not_modified(student, rng):
    """training leaves X_full and Y_full unchanged"""
    net = Net(rng)
    X, Y = _data(rng, 100)
    model, opt = net.build(student, 0.1)
    value, args = call_checked(
        student,
        student.ref("epoch"),
        model,
        X,
        Y,
        opt,
        batch_size=30,
        _return_args=True,
        _what="epoch(model, X_full, Y_full, opt, batch_size=30)",
        errors=ERRORS,
    )
    check(
        isinstance(value, (tuple, list)) and len(value) == 2,
        "epoch(model, X_full, Y_full, opt, batch_size=30) did not return a tuple (mean_error, mean_loss)",
        "Return both figures: `return total_error / n_batches, total_loss / n_batches`.",
    )
    for name, after, before in (("X_full", args[1], X), ("Y_full", args[2], Y)):
        assert_unchanged(
            after,
            before,
            what="epoch(model, X_full, Y_full, opt, batch_size=30)",
            name=name,
            hint="Don't modify the data (no shuffling in place, no `X_full -= ...`): slice it into batches.",
        )
