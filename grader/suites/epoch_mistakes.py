"""The catalogue of wrong training loops for exercise 9 (epoch), run here to name a mistake.

Only when the student's figures or final parameters are wrong, loops with the usual mistakes (no
zero_grad, sample-weighted means, the whole set as one batch, ...; at most one of each kind, up to
three together) are run here from the same start, and the fewest mistakes that give the student's
result name it.  Part of the hidden suite: not shipped in the student edition.
"""

import torch.nn.functional as F

import reference
from grader.verdicts.diagnosis import Misconception

# The likely mistakes in the loop, recognised from the figures and parameters a submission gives
# (a wrong variant of the loop takes at most one mistake of each kind: see KINDS).
MISTAKES = (
    Misconception(
        "no_zero_grad",
        "Gradients accumulate across batches: call opt.zero_grad() before "
        "loss.backward() in EVERY batch (backward adds to .grad).",
    ),
    Misconception(
        "no_update",
        "The parameters never changed: in every batch call opt.zero_grad(), then "
        "loss.backward(), then opt.step(). A step before backward (or zero_grad between "
        "backward and step) finds no gradient.",
    ),
    Misconception(
        "sample_mean",
        "You averaged over samples (each batch weighted by its size); the exercise asks "
        "for the average over BATCHES: add up the per-batch numbers and divide by the number "
        "of batches (the last batch is smaller, so the two differ).",
    ),
    Misconception(
        "one_batch",
        "The whole set was used as one batch: split it, X_full[i:i+batch_size] for i in "
        "range(0, X_full.shape[0], batch_size).",
    ),
    Misconception(
        "bs100", "The batch_size argument is ignored (100 was used): use the argument, not a hard-coded size."
    ),
    Misconception(
        "drop_last",
        "The last, smaller batch was left out: range(0, n, batch_size) includes it, and "
        "X_full[i:i+batch_size] simply has fewer rows at the end.",
    ),
    Misconception(
        "accuracy", "This is the accuracy: the first figure is the ERROR, loss_01 = fraction of WRONG predictions."
    ),
    Misconception("sum", "These are sums over batches: divide by the number of batches."),
    Misconception("swapped", "The two figures are swapped: return (mean_error, mean_loss) in this order."),
    Misconception(
        "floor_count",
        "You divided by X_full.shape[0] // batch_size batches, which leaves the last, "
        "smaller batch out of the count: divide by the number of batches the loop really "
        "ran (len(range(0, n, batch_size)), or count them).",
    ),
    Misconception(
        "err_sample_mean",
        "The error was averaged over samples (wrong predictions counted over the whole "
        "set, divided by the number of samples); the exercise asks for the average of "
        "the per-batch loss_01 over the number of batches.",
    ),
    Misconception(
        "loss_means_over_n",
        "The loss adds up per-batch MEAN losses but divides them by the number of "
        "samples: the sum of batch means is divided by the number of batches.",
    ),
    Misconception(
        "err_means_over_n",
        "The error adds up per-batch error RATES (loss_01) but divides them by the "
        "number of samples: divide the sum of batch rates by the number of batches.",
    ),
)
VARIANT_HINTS = {m.name: m.hint for m in MISTAKES}
EVAL_VARIANTS = [
    "swapped",
    "accuracy",
    "sample_mean",
    "sum",
    "one_batch",
    "bs100",
    "drop_last",
    "floor_count",
    "err_sample_mean",
    "err_means_over_n",
    "loss_means_over_n",
]
TRAIN_VARIANTS = ["no_update", "no_zero_grad"] + EVAL_VARIANTS


# the kinds of mistakes: a wrong variant takes at most one of each
KINDS = (
    ("no_update", "no_zero_grad"),
    ("one_batch", "bs100", "drop_last"),
    ("sample_mean", "sum", "floor_count"),
    ("accuracy",),
    ("swapped",),
    ("err_sample_mean", "err_means_over_n"),
    ("loss_means_over_n",),
)
MOST = 3  # real loops combine mistakes: (loss, accuracy) averaged over samples is three


def combinations(train: bool) -> list:
    """The wrong variants to try (tuples of mistakes, at most one of each kind): single mistakes first, in
    the order of TRAIN_VARIANTS, then pairs, then triples."""
    kinds = KINDS if train else KINDS[1:]
    combos = [()]
    for kind in kinds:
        combos = combos + [c + (m,) for c in combos for m in kind if len(c) < MOST]
    order = TRAIN_VARIANTS if train else EVAL_VARIANTS
    both = set(KINDS[2])  # a divisor of both figures leaves no room for one of a single figure's
    one = set(KINDS[5] + KINDS[6])
    return sorted(
        (c for c in combos if c and not (both & set(c) and one & set(c))),
        key=lambda c: (len(c), [order.index(m) for m in c]),
    )


def run_variant(model, X_full, Y_full, opt, bs, train_v, batch_v):
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
        X, Y = X_full[i : i + bs], Y_full[i : i + bs]
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


def figures(errs, losses, sizes, mistakes, bs=None):
    """The two returned numbers from the per-batch ones, with the figure mistakes among ``mistakes``
    (``bs``: the batch size the loop was called with, for a count of batches by floor division)."""
    if "sample_mean" in mistakes:
        err = sum(e * s for e, s in zip(errs, sizes)) / sum(sizes)
        loss = sum(x * s for x, s in zip(losses, sizes)) / sum(sizes)
    elif "sum" in mistakes:
        err, loss = sum(errs), sum(losses)
    elif "floor_count" in mistakes:
        count = max(1, sum(sizes) // bs) if bs else len(errs)
        err, loss = sum(errs) / count, sum(losses) / count
    else:
        err, loss = sum(errs) / len(errs), sum(losses) / len(losses)
    if "err_sample_mean" in mistakes:
        err = sum(e * s for e, s in zip(errs, sizes)) / sum(sizes)
    elif "err_means_over_n" in mistakes:
        err = sum(errs) / sum(sizes)
    if "loss_means_over_n" in mistakes:
        loss = sum(losses) / sum(sizes)
    if "accuracy" in mistakes:
        err = 1.0 - err
    if "swapped" in mistakes:
        err, loss = loss, err
    return err, loss


LOSS_ACCURACY = (
    "You returned (loss, accuracy), but epoch returns (mean_error, mean_loss): the ERROR first "
    "(loss_01, the fraction of WRONG predictions), then the loss."
)


def mistakes_hint(found) -> str:
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
        f"({i}) {h}" for i, h in enumerate(parts, 1)
    )


class WrongLoops:
    """The wrong loops of one call of epoch (a model state, data, batch size, optimizer, number of epochs),
    each run here at most once."""

    def __init__(self, net, X, Y, bs, lr, momentum, epochs, train: bool):
        self.net, self.X, self.Y = net, X, Y
        self.bs, self.lr, self.momentum, self.epochs, self.train = bs, lr, momentum, epochs, train
        self._made = {}

    def variant(self, v):
        """(figures, params) of a wrong variant (a tuple of mistakes), run here from the same start."""
        train_v = next((m for m in v if m in KINDS[0]), None)
        batch_v = next((m for m in v if m in KINDS[1]), None)
        key = (train_v, batch_v)
        if key not in self._made:
            runs = None
            model, opt = self.net.local(self.lr, self.momentum)
            try:
                for _ in range(self.epochs):
                    runs = run_variant(model, self.X, self.Y, opt, self.bs or 100, train_v, batch_v)
                    if runs is None:
                        break
            except RuntimeError:  # that mistake would have raised here
                runs = None
            self._made[key] = (
                None if runs is None else (runs, {n: p.detach().clone() for n, p in model.named_parameters()})
            )
        made = self._made[key]
        return None if made is None else (figures(*made[0], v, self.bs or 100), made[1])

    def hint(self, matches, fallback) -> str:
        """The hint naming the fewest mistakes whose loop gives a result that ``matches`` (each of them),
        else ``fallback``."""
        found = []
        for v in combinations(self.train):
            if found and len(v) > len(found[0]):
                break
            res = self.variant(v)
            if res is not None and matches(res):
                found.append(v)
        if {("sample_mean",), ("one_batch",)} <= set(found):
            return (
                "You averaged over samples (or used the whole set as one batch); the exercise asks for the "
                "average over BATCHES X_full[i:i+batch_size]: add up the per-batch numbers and divide by the "
                "number of batches (the last batch is smaller, so the two differ)."
            )
        return mistakes_hint(found[0]) if found else fallback
