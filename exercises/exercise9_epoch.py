"""Exercise 9: the 0-1 loss and one epoch of training or evaluation."""
import torch
import torch.nn.functional as F


def loss_01(H, Y):
    """Fraction of wrong predictions (the error rate) in a batch.

    H: (n, k) logits; Y: (n,) integer class labels.  The prediction for
    sample i is the index of the largest logit, ``H.argmax(dim=1)``.  Return
    the fraction of samples whose prediction differs from Y, a number in
    [0, 1] (a Python float via ``.item()``).  It is the ERROR, not the
    accuracy: all correct -> 0.0.  Use ``dim=1`` (per row), not the argmax of
    the whole tensor.
    """
    raise NotImplementedError("loss_01(H, Y) is not written yet: see its docstring")


def epoch(model, X_full, Y_full, opt=None, batch_size=100):
    """One pass over the data set, training when ``opt`` is given.

    Split the data into consecutive batches, in order and without shuffling:
    ``X = X_full[i:i+batch_size]``, ``Y = Y_full[i:i+batch_size]`` for
    i = 0, batch_size, 2*batch_size, ...  The last batch may be smaller
    (250 samples, batch_size 100 -> batches of 100, 100, 50).

    For every batch:
        H = model(X)
        loss = F.cross_entropy(H, Y)          # mean over the batch
        if opt is not None:
            opt.zero_grad()                   # every batch: grads accumulate
            loss.backward()                   # backward BEFORE step
            opt.step()
        record loss_01(H, Y) and loss.item()

    Return ``(mean_error, mean_loss)``: the two averages over BATCHES (add up
    the per-batch numbers, divide by the number of batches), as Python floats.

    Traps:
      * Don't hard-code the number of samples or the batch size; use
        ``X_full.shape[0]`` and ``range(0, n, batch_size)``.
      * Return the error (loss_01), not the accuracy.
      * ``.item()`` turns one-element tensors into floats; summing tensors
        instead keeps every batch's graph alive.
      * With ``opt=None`` (evaluation) no parameter may change: no step, and
        no in-place edits of the model.
      * Call ``model(X)``, not ``model.forward(X)``.

    Allowed: torch.nn.functional.cross_entropy (it is the loss here), any
    tensor operation.  Not needed: DataLoader (it would shuffle or reorder).
    This file is graded on its own: don't import your other exercises.
    """
    raise NotImplementedError("epoch(model, X_full, Y_full, opt, batch_size) is not written yet: see its docstring")
