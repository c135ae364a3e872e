"""Hidden suite for exercise 9: the 0-1 loss and one epoch of training or evaluation.

``epoch`` is run in the worker on a torch model (nn.Sequential(nn.Linear,
nn.ReLU, nn.Linear), built there from a state chosen here) with
torch.optim.SGD, so the exercise is graded on its own.  The same state goes
through ``reference.epoch`` here with a local torch model and optimizer; the
returned figures and the final parameters must agree.  When they don't, a few
locally computed wrong variants (no zero_grad, sample-weighted means, the
whole set as one batch, ...) are tried, and the one that matches the
student's result names the likely mistake.
"""
import pytest
import torch
import torch.nn.functional as F

import reference
from grader.verdicts.checks import Failure, assert_close, check, describe, dtype_str, expect_float, expect_tensor, \
    shape_str
from grader.transport.student import Call, Student, StudentError
from grader.suites.common import join, randint, randn
from grader.transport.wire import Handle

IN, HID, K = 6, 8, 4
LABEL = f"nn.Sequential(nn.Linear({IN}, {HID}), nn.ReLU(), nn.Linear({HID}, {K}))"

FIGURES_HINT = ("For every batch X = X_full[i:i+batch_size] (i = 0, batch_size, 2*batch_size, ...): H = model(X), "
                "loss = F.cross_entropy(H, Y); record loss_01(H, Y) and loss.item(); return the two averages over "
                "batches.")
TRAIN_HINT = ("With an optimizer, every batch does opt.zero_grad(), loss.backward(), opt.step() in this order, on "
              "the loss of that batch.")
VARIANT_HINTS = {
    "no_zero_grad": "Gradients accumulate across batches: call opt.zero_grad() before loss.backward() in EVERY batch "
                    "(backward adds to .grad).",
    "no_update": "The parameters never changed: in every batch call opt.zero_grad(), then loss.backward(), then "
                 "opt.step(). A step before backward (or zero_grad between backward and step) finds no gradient.",
    "sample_mean": "You averaged over samples (each batch weighted by its size); the exercise asks for the average "
                   "over BATCHES: add up the per-batch numbers and divide by the number of batches (the last batch "
                   "is smaller, so the two differ).",
    "one_batch": "The whole set was used as one batch: split it, X_full[i:i+batch_size] for i in "
                 "range(0, X_full.shape[0], batch_size).",
    "bs100": "The batch_size argument is ignored (100 was used): use the argument, not a hard-coded size.",
    "drop_last": "The last, smaller batch was left out: range(0, n, batch_size) includes it, and "
                 "X_full[i:i+batch_size] simply has fewer rows at the end.",
    "accuracy": "This is the accuracy: the first figure is the ERROR, loss_01 = fraction of WRONG predictions.",
    "sum": "These are sums over batches: divide by the number of batches.",
    "swapped": "The two figures are swapped: return (mean_error, mean_loss) in this order.",
}
ERRORS = [("modified by an inplace operation", "opt.step() ran before loss.backward(): step changes the parameters in "
                                               "place, and this batch's backward still needs their old values. In "
                                               "every batch: opt.zero_grad(), loss.backward(), then opt.step()."),
          ("must match the size of tensor", "The predictions and the labels have different lengths: the prediction "
                                            "for each sample (row) is `H.argmax(dim=1)`, one per row, like Y."),
          ("division by zero", "No batch was processed: with range(0, X_full.shape[0], batch_size) there is always at "
                               "least one batch (the whole set when batch_size is larger than it).")]
EVAL_TRAINS_HINT = ("With opt=None the model's parameters changed: evaluate only. Don't create an optimizer or "
                    "update anything when opt is None (`if opt is not None:` around zero_grad/backward/step).")
EVAL_VARIANTS = ["swapped", "accuracy", "sample_mean", "sum", "one_batch", "bs100", "drop_last"]
TRAIN_VARIANTS = ["no_update", "no_zero_grad"] + EVAL_VARIANTS


# ---------------------------------------------------------------------------
# the model: in the worker and here

class Net:
    """The same small torch network in the worker (with torch.optim.SGD) and here."""

    def __init__(self, rng, dtype=torch.float64):
        self.dtype = dtype
        self.state = {"0.weight": randn(rng, (HID, IN), dtype, scale=0.7), "0.bias": randn(rng, (HID,), dtype),
                      "2.weight": randn(rng, (K, HID), dtype, scale=0.7), "2.bias": randn(rng, (K,), dtype)}

    def build(self, student, lr=None, momentum=0.0, separate_opt=False):
        """(model handle, optimizer or None) in the worker: the model and its state in one request (the
        model and its layers are ``Call``s); the optimizer is a ``Call`` that the request passing it
        makes (its own request with ``separate_opt``, for an optimizer passed more than once)."""
        layers = [Call(Student.torch("nn.Linear"), IN, HID, dtype=self.dtype), Call(Student.torch("nn.ReLU")),
                  Call(Student.torch("nn.Linear"), HID, K, dtype=self.dtype)]
        # nn.Module.load_state_dict(nn.Sequential(...), state): the model is made as the request is read,
        # and comes back (a handle) among the arguments after the call
        _, (m, _state) = student.call_and_args(Student.torch("nn.Module.load_state_dict"),
                                               Call(Student.torch("nn.Sequential"), *layers), self.state,
                                               _what=f"{LABEL}.load_state_dict(...)")
        if lr is None:
            return m, None
        opt = Call(Student.torch("optim.SGD"), Call(m.attr("parameters")), lr=lr, momentum=momentum)
        if separate_opt:
            opt = student.call(opt.fn, *opt.args, _what=f"torch.optim.SGD(model.parameters(), lr={lr}, "
                                                        f"momentum={momentum})", **opt.kwargs)
        return m, opt

    def local(self, lr=None, momentum=0.0):
        model = torch.nn.Sequential(torch.nn.Linear(IN, HID, dtype=self.dtype), torch.nn.ReLU(),
                                    torch.nn.Linear(HID, K, dtype=self.dtype))
        model.load_state_dict(self.state)
        # reference.SGD makes torch.optim.SGD's updates bit for bit, without its first step's imports
        opt = None if lr is None else reference.SGD(model.parameters(), lr=lr, momentum=momentum)
        return model, opt

    def describe(self, lr, momentum):
        opt = "opt=None" if lr is None else \
            f"opt=torch.optim.SGD(model.parameters(), lr={lr}" + (f", momentum={momentum})" if momentum else ")")
        return f"model: {LABEL}, {dtype_str(self.dtype)}, random weights; {opt}"


def _data(rng, n, dtype=torch.float64):
    """n samples with labels that depend on the inputs (plus noise), so training changes the figures."""
    X = randn(rng, (n, IN), dtype)
    W = randn(rng, (IN, K), torch.float64)
    Y = (X.double() @ W + 0.5 * randn(rng, (n, K), torch.float64)).argmax(dim=1)
    return X, Y


# ---------------------------------------------------------------------------
# the wrong variants, computed here

# the kinds of mistakes: a wrong variant takes at most one of each
KINDS = (("no_update", "no_zero_grad"), ("one_batch", "bs100", "drop_last"), ("sample_mean", "sum"), ("accuracy",),
         ("swapped",))
MOST = 3  # real loops combine mistakes: (loss, accuracy) averaged over samples is three


def _combinations(train: bool) -> list:
    """The wrong variants to try (tuples of mistakes, at most one of each kind): single mistakes first, in
    the order of TRAIN_VARIANTS, then pairs, then triples."""
    kinds = KINDS if train else KINDS[1:]
    combos = [()]
    for kind in kinds:
        combos = combos + [c + (m,) for c in combos for m in kind if len(c) < MOST]
    order = TRAIN_VARIANTS if train else EVAL_VARIANTS
    return sorted((c for c in combos if c), key=lambda c: (len(c), [order.index(m) for m in c]))


def _run_variant(model, X_full, Y_full, opt, bs, train_v, batch_v):
    """Per-batch (errors, losses, sizes) of the loop with the mistakes ``train_v`` and ``batch_v`` (or None)."""
    n = X_full.shape[0]
    if batch_v == "one_batch":
        bs = n
    elif batch_v == "bs100":
        bs = 100
    starts = list(range(0, n, bs))
    if batch_v == "drop_last":
        starts = [i for i in starts if i + bs <= n]
        if not starts or len(starts) == len(range(0, n, bs)):
            return None
    errs, losses, sizes = [], [], []
    for i in starts:
        X, Y = X_full[i:i + bs], Y_full[i:i + bs]
        H = model(X)
        loss = F.cross_entropy(H, Y)
        if opt is not None:
            if train_v == "no_zero_grad":
                loss.backward()
                opt.step()
            elif train_v == "no_update":
                opt.zero_grad()
                opt.step()
                loss.backward()
            else:
                opt.zero_grad()
                loss.backward()
                opt.step()
        errs.append(reference.loss_01(H, Y))
        losses.append(loss.item())
        sizes.append(Y.shape[0])
    return errs, losses, sizes


def _figures(errs, losses, sizes, mistakes):
    """The two returned numbers from the per-batch ones, with the figure mistakes among ``mistakes``."""
    if "sample_mean" in mistakes:
        err = sum(e * s for e, s in zip(errs, sizes)) / sum(sizes)
        loss = sum(x * s for x, s in zip(losses, sizes)) / sum(sizes)
    elif "sum" in mistakes:
        err, loss = sum(errs), sum(losses)
    else:
        err, loss = sum(errs) / len(errs), sum(losses) / len(losses)
    if "accuracy" in mistakes:
        err = 1.0 - err
    if "swapped" in mistakes:
        err, loss = loss, err
    return err, loss


LOSS_ACCURACY = ("You returned (loss, accuracy), but epoch returns (mean_error, mean_loss): the ERROR first "
                 "(loss_01, the fraction of WRONG predictions), then the loss.")


def _mistakes_hint(found) -> str:
    """The hint for a variant (a tuple of mistakes), each mistake named."""
    if len(found) == 1:
        return VARIANT_HINTS[found[0]]
    parts, rest = [], list(found)
    if {"accuracy", "swapped"} <= set(rest):
        if len(rest) == 2:
            return LOSS_ACCURACY
        parts.append(LOSS_ACCURACY)
        rest = [m for m in rest if m not in ("accuracy", "swapped")]
    parts += [VARIANT_HINTS[m] for m in rest]
    return f"{len(found)} mistakes together give exactly these numbers: " + " ".join(
        f"({i}) {h}" for i, h in enumerate(parts, 1))


def _call(student, fn, *args, _inspect=None, _return_args=False, **kwargs):
    """student.call (``_inspect``: student.call_and_inspect of that object; ``_return_args``:
    student.call_and_args), with a sharper hint for errors whose message shows the likely cause."""
    try:
        if _inspect is not None:
            return student.call_and_inspect(fn, *args, _of=_inspect, **kwargs)
        return (student.call_and_args if _return_args else student.call)(fn, *args, **kwargs)
    except StudentError as e:
        if e.kind == "exception":
            for pattern, hint in ERRORS:
                if pattern in e.message:
                    raise StudentError(e.kind, e.message, hint, **e.details) from None
        raise


def _feq(a, b, rtol=1e-6, atol=1e-9) -> bool:
    return abs(a - b) <= atol + rtol * abs(b)


class Run:
    """One call of the student's epoch and everything needed to judge it."""

    def __init__(self, student, net, X, Y, bs=None, lr=None, momentum=0.0, epochs=1, pass_opt=True,
                 rtol=1e-6, atol=1e-9, fallback=None, separate_opt=False):
        self.student, self.net, self.X, self.Y = student, net, X, Y
        self.fallback = fallback
        self.bs, self.lr, self.momentum, self.epochs = bs, lr, momentum, epochs
        self.rtol, self.atol = rtol, atol
        self.model, self.opt = net.build(student, lr, momentum, separate_opt=separate_opt or epochs > 1)
        args = [self.model, X, Y]
        if pass_opt:
            args.append(self.opt)
        kwargs = {} if bs is None else {"batch_size": bs}
        call = "epoch(model, X_full, Y_full" + ("" if not pass_opt else ", opt" if lr is not None else ", None") + \
            ("" if bs is None else f", batch_size={bs}") + ")"
        self.what = call if epochs == 1 else f"the second of two calls {call}"
        self.inputs = (f"{net.describe(lr, momentum)}; {describe('X_full', X, 'randn')}; "
                       f"Y_full: {X.shape[0]} labels in 0..{K - 1}"
                       + ("" if bs is None else f"; batch_size={bs}") + self._batches())
        for _ in range(epochs - 1):
            _call(student, student.ref("epoch"), *args, _what=call, **kwargs)
        # the last call reads the model's parameters after it, in the same request
        value, info = _call(student, student.ref("epoch"), *args, _what=call, _inspect=self.model, **kwargs)
        self.value = value
        self._params = {n: t for n, t, _h in info.get("params", [])}
        # the reference
        model, opt = net.local(lr, momentum)
        for _ in range(epochs):
            self.expected = reference.epoch(model, X, Y, opt, 100 if bs is None else bs)
        self.expected_params = {n: p.detach().clone() for n, p in model.named_parameters()}
        self._variants = {}

    def _batches(self) -> str:
        n, bs = self.X.shape[0], self.bs or 100
        sizes = [min(bs, n - i) for i in range(0, n, bs)]
        if len(sizes) > 6:
            return f" ({len(sizes)} batches)"
        return f" (batches of {', '.join(map(str, sizes))})"

    def variant(self, v):
        """(figures, params) of a wrong variant (a tuple of mistakes), run here from the same start."""
        train_v = next((m for m in v if m in KINDS[0]), None)
        batch_v = next((m for m in v if m in KINDS[1]), None)
        key = (train_v, batch_v)
        if key not in self._variants:
            runs = None
            model, opt = self.net.local(self.lr, self.momentum)
            try:
                for _ in range(self.epochs):
                    runs = _run_variant(model, self.X, self.Y, opt, self.bs or 100, train_v, batch_v)
                    if runs is None:
                        break
            except RuntimeError:  # that mistake would have raised here
                runs = None
            self._variants[key] = None if runs is None else \
                (runs, {n: p.detach().clone() for n, p in model.named_parameters()})
        made = self._variants[key]
        return None if made is None else (_figures(*made[0], v), made[1])

    def figures(self):
        """The two returned numbers as floats, after checking the return value's form."""
        v = self.value
        if isinstance(v, Handle) or not isinstance(v, (tuple, list)) or len(v) != 2:
            got = "None" if v is None else (f"a tensor of shape {shape_str(v.shape)}" if isinstance(v, torch.Tensor)
                                            else f"a {type(v).__name__}" if not isinstance(v, Handle) else v.type)
            if isinstance(v, (tuple, list)):
                got = f"a {type(v).__name__} of {len(v)} values"
            raise Failure(f"{self.what} returned {got}, expected a tuple (mean_error, mean_loss)",
                          "Return both figures: `return total_error / n_batches, total_loss / n_batches`.")
        return (expect_float(v[0], f"{self.what}: the mean error (first value)"),
                expect_float(v[1], f"{self.what}: the mean loss (second value)"))

    def _hint(self, matches, fallback) -> str:
        """The hint naming the fewest mistakes that give the student's result (each of them), else ``fallback``."""
        found = []
        for v in _combinations(self.opt is not None):
            if found and len(v) > len(found[0]):
                break
            res = self.variant(v)
            if res is not None and matches(res):
                found.append(v)
        if {("sample_mean",), ("one_batch",)} <= set(found):
            return ("You averaged over samples (or used the whole set as one batch); the exercise asks for the "
                    "average over BATCHES X_full[i:i+batch_size]: add up the per-batch numbers and divide by the "
                    "number of batches (the last batch is smaller, so the two differ).")
        return _mistakes_hint(found[0]) if found else fallback

    def check_figures(self):
        err, loss = self.figures()
        e_err, e_loss = self.expected
        fallback = self.fallback or (TRAIN_HINT + " " + FIGURES_HINT if self.opt is not None else FIGURES_HINT)
        loss_ok = _feq(loss, e_loss, self.rtol, self.atol)
        for name, got, exp in (("mean error", err, e_err), ("mean loss", loss, e_loss)):
            if _feq(got, exp, self.rtol, self.atol):
                continue
            if self.opt is None and self._params_changed():
                hint = EVAL_TRAINS_HINT
            else:
                if name == "mean error" and loss_ok:
                    fallback = ("The mean loss is right but the mean error is not: check loss_01 (the fraction of "
                                "wrong predictions, `(H.argmax(dim=1) != Y).float().mean().item()`) and average its "
                                "per-batch values over the batches.")
                hint = self._hint(lambda res: not (_feq(res[0][0], e_err, self.rtol, self.atol)
                                                   and _feq(res[0][1], e_loss, self.rtol, self.atol))
                                  and _feq(err, res[0][0], 1e-5, 1e-8) and _feq(loss, res[0][1], 1e-5, 1e-8),
                                  fallback)
            raise Failure(f"{self.what} returned a {name} of {got:.8g}, expected {exp:.8g} "
                          f"(error {abs(got - exp):.3g})\n  input: {self.inputs}", hint)

    def _params_changed(self) -> bool:
        got = self.params()
        return any(not (isinstance(got.get(n), torch.Tensor) and torch.equal(got[n], t))
                   for n, t in self.net.state.items())

    def params(self) -> dict:
        """The model's parameters after the student's (last) epoch call, read by that call's request."""
        return self._params

    def check_params(self):
        got = self.params()
        what = f"{self.what}" + (" (training)" if self.opt is not None else " (evaluation)")
        if self.opt is None:
            for n, t in self.net.state.items():
                if not torch.equal(expect_tensor(got.get(n), f"the model's {n}"), t):
                    raise Failure(f"{what} changed the model's parameter {n}; with opt=None no parameter may "
                                  f"change\n  input: {self.inputs}", EVAL_TRAINS_HINT)
            return
        changed = any(not torch.equal(expect_tensor(got.get(n), f"the model's {n}"), t)
                      for n, t in self.net.state.items())
        if not changed:
            raise Failure(f"after {what} no parameter of the model changed\n  input: {self.inputs}",
                          VARIANT_HINTS["no_update"])
        for n, exp in self.expected_params.items():
            def same(res, n=n):
                return not torch.allclose(res[1][n], exp, rtol=self.rtol, atol=self.atol) and \
                    torch.allclose(got[n].double(), res[1][n].double(), rtol=1e-4, atol=1e-6)
            g = expect_tensor(got.get(n), f"the model's {n}")
            if g.shape == exp.shape and torch.allclose(g.double(), exp.double(), rtol=self.rtol, atol=self.atol):
                continue
            assert_close(g, exp, what=f"the model's parameter {n} after {what}", inputs=self.inputs,
                         rtol=self.rtol, atol=self.atol, dtype=self.net.dtype,
                         hint=self._hint(same, self.fallback or TRAIN_HINT))


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


def _loss01_hint(got, H, Y, expected) -> str:
    n = Y.shape[0]
    cands = [(1.0 - expected, "This is the accuracy: loss_01 is the fraction of WRONG predictions, "
                              "`(H.argmax(dim=1) != Y)`."),
             (expected * n, "This is the number of wrong predictions: divide by the number of samples (or use "
                            "`.float().mean()`)."),
             ((n - expected * n), "This is the number of correct predictions: count the WRONG ones and divide by n.")]
    if H.shape[0] == H.shape[1]:
        cands.append(((H.argmax(dim=0) != Y).double().mean().item(),
                      "The argmax is taken over the wrong dimension: the prediction for each sample (row) is "
                      "`H.argmax(dim=1)`."))
    cands.append(((H.argmax() != Y).double().mean().item(),
                  "H.argmax() without dim is the index in the flattened tensor: use `H.argmax(dim=1)`."))
    return join(hint for value, hint in cands if not _feq(value, expected) and _feq(got, value)) or \
        "loss_01 is `(H.argmax(dim=1) != Y).float().mean().item()`: the fraction of wrong predictions."


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
    H = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [0.0, 2.0, 1.0], [4.0, 1.0, 2.0]])
    Y = torch.tensor([0, 2, 2, 1, 1])
    _check_loss01(student, H, Y, "H = [[2, 1, 0], [0, 3, 1], [1, 0, 5], [0, 2, 1], [4, 1, 2]]; Y = [0, 2, 2, 1, 1]")


def _check_loss01(student, H, Y, inputs):
    what = "loss_01(H, Y)"
    reply = got = _call(student, student.ref("loss_01"), H, Y, _what=what)
    expected = reference.loss_01(H, Y)
    # a failure carries the expected value and the reply, from which a visible test's reproducer is made
    shown = {"expected": torch.tensor(expected), "got": reply}
    if isinstance(got, torch.Tensor) and got.dim() == 0 and not got.is_complex():
        got = got.item()
    elif isinstance(got, torch.Tensor):
        raise Failure(f"{what} returned a tensor of shape {shape_str(got.shape)}, expected a number\n  input: {inputs}",
                      "Reduce to one number: `(H.argmax(dim=1) != Y).float().mean().item()`.", **shown)
    if got is None:
        raise Failure(f"{what} returned None, expected a number\n  input: {inputs}",
                      "Did you forget the `return` statement?", **shown)
    got = expect_float(got, what)
    if not _feq(got, expected, 1e-6, 1e-7):
        raise Failure(f"{what} returned {got:.6g}, expected {expected:.6g}\n  input: {inputs}",
                      _loss01_hint(got, H, Y, expected), **shown)


# ---------------------------------------------------------------------------
# evaluation (opt=None)

@pytest.mark.points(1)
def test_eval_figures(student, rng):
    """with opt=None, 230 samples in batches of 50: the mean error and mean loss over batches are right"""
    net = Net(rng)
    X, Y = _data(rng, 230)
    Run(student, net, X, Y, bs=50).check_figures()


@pytest.mark.points(0.5)
def test_eval_leaves_parameters(student, rng):
    """with opt=None the figures are right and no parameter of the model changes"""
    net = Net(rng)
    X, Y = _data(rng, 120)
    run = Run(student, net, X, Y, bs=32)
    run.check_figures()
    run.check_params()


@pytest.mark.points(0.5)
def test_eval_default_batch_size(student, rng):
    """without opt and batch_size (250 samples: batches of 100, 100, 50) the figures are right"""
    net = Net(rng)
    X, Y = _data(rng, 250)
    Run(student, net, X, Y, pass_opt=False).check_figures()


# ---------------------------------------------------------------------------
# training

@pytest.mark.points(1)
def test_train_figures(student, rng):
    """training with torch.optim.SGD (lr 0.1), 230 samples in batches of 50: the returned figures are right"""
    net = Net(rng)
    X, Y = _data(rng, 230)
    Run(student, net, X, Y, bs=50, lr=0.1).check_figures()


@pytest.mark.points(1.25)
def test_train_parameters(student, rng):
    """training with torch.optim.SGD (lr 0.1), 230 samples in batches of 50: the final parameters are right"""
    net = Net(rng)
    X, Y = _data(rng, 230)
    Run(student, net, X, Y, bs=50, lr=0.1).check_params()


OWN_OPTIMIZER_HINT = ("The optimizer you were given never stepped: use it (here torch.optim.SGD with momentum 0.9), "
                      "opt.zero_grad(), loss.backward(), opt.step() for every batch. Don't create an optimizer of "
                      "your own or update the parameters by hand.")
GIVEN_OPTIMIZER_HINT = ("Your code steps the optimizer it was given, but the parameters end up different from "
                        "opt.zero_grad(), loss.backward(), opt.step() once per batch X_full[i:i+batch_size], in this "
                        "order, on that batch's F.cross_entropy(model(X), Y) (its mean over the batch, not the sum).")


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
    run = Run(student, net, X, Y, bs=32, lr=0.05, momentum=0.9, separate_opt=True, fallback=OWN_OPTIMIZER_HINT)
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
    return Run(student, net, X, Y, bs=bs, lr=0.1)


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
    Run(student, net, X, Y, bs=40, lr=0.1, rtol=1e-4, atol=1e-5).check_params()


@pytest.mark.points(0.75)
def test_two_epochs(student, rng):
    """a second call continues training from where the first one stopped: the final parameters"""
    net = Net(rng)
    X, Y = _data(rng, 130)
    Run(student, net, X, Y, bs=50, lr=0.1, epochs=2).check_params()


@pytest.mark.points(0.5)
def test_inputs_not_modified(student, rng):
    """training leaves X_full and Y_full unchanged"""
    net = Net(rng)
    X, Y = _data(rng, 100)
    model, opt = net.build(student, 0.1)
    value, args = _call(student, student.ref("epoch"), model, X, Y, opt, batch_size=30, _return_args=True,
                        _what="epoch(model, X_full, Y_full, opt, batch_size=30)")
    check(isinstance(value, (tuple, list)) and len(value) == 2,
          "epoch(model, X_full, Y_full, opt, batch_size=30) did not return a tuple (mean_error, mean_loss)",
          "Return both figures: `return total_error / n_batches, total_loss / n_batches`.")
    for name, after, before in (("X_full", args[1], X), ("Y_full", args[2], Y)):
        after = expect_tensor(after, name)
        check(after.shape == before.shape and torch.equal(after, before),
              f"epoch(model, X_full, Y_full, opt, batch_size=30) changed {name} in place",
              "Don't modify the data (no shuffling in place, no `X_full -= ...`): slice it into batches.")
