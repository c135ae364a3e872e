"""Exercise 3: cross-entropy loss.  Replace the ``raise`` lines with your code."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    """Mean cross-entropy between ``logits`` and integer class ``targets``.

    logits:  (n, k) float tensor, one row of k class scores per sample.
    targets: (n,) integer tensor, targets[i] in {0, ..., k-1}.
    Returns a 0-dim tensor (a scalar tensor, not a Python float):

        loss = -(1/n) * sum_i log_softmax(logits)[i, targets[i]]

    where, row by row, log_softmax(v)_j = v_j - log sum_l exp(v_l).  Compute
    it stably: subtract the row max m first, (v_j - m) - log sum_l exp(v_l - m),
    or use torch.logsumexp.

    Traps:
      * It is a MEAN over the batch, not a sum.
      * Pick one entry per row: ``L[torch.arange(n), targets]`` (n values).
        ``L[:, targets]`` is an (n, n) matrix -- wrong.
      * n is ``logits.shape[0]``; don't hard-code the batch size (64, 100, ...).
      * log(softmax) gives -inf for far-apart logits (e.g. +-1000); work in
        log space instead.
      * Create index tensors on ``logits.device``; the result keeps the dtype
        of ``logits``; don't modify ``logits`` in place.
      * This file is graded on its own: don't import your other exercises,
        write the log-softmax again here.

    Forbidden: torch.softmax / log_softmax, torch.nn.functional.cross_entropy,
    nll_loss, nn.CrossEntropyLoss, nn.NLLLoss (in any spelling), and
    torch.distributions.Categorical (-Categorical(logits=...).log_prob(t) is
    the cross-entropy).
    Allowed: torch.logsumexp, torch.exp, torch.log, max, sum, mean, gather,
    indexing.
    """
    raise NotImplementedError("cross_entropy(logits, targets) is not written yet: see its docstring")


class CrossEntropyLoss(nn.Module):
    """Module version of ``cross_entropy``.

    ``CrossEntropyLoss()(H, Y)`` must return exactly ``cross_entropy(H, Y)``:
    a 0-dim tensor, the mean over the batch.  The module has no parameters.
    Write ``forward``, not ``__call__``: nn.Module.__call__ calls forward.
    """

    def forward(self, H, Y):
        raise NotImplementedError("CrossEntropyLoss.forward(H, Y) is not written yet: see the docstrings")
