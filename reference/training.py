"""Reference 0-1 loss and training/evaluation epoch (exercise 9)."""

import torch.nn.functional as F

__all__ = ["loss_01", "epoch"]


def loss_01(H, Y):
    """Fraction of rows of ``H`` whose argmax differs from ``Y``, as a Python float."""
    wrong = (H.argmax(dim=1) != Y).sum().item()
    return wrong / Y.shape[0]


def epoch(model, X_full, Y_full, opt=None, batch_size=100):
    """One pass over ``(X_full, Y_full)`` in consecutive, unshuffled batches.

    For each batch ``X_full[i:i+batch_size]`` (the last may be smaller):
    ``H = model(X)``, ``loss = F.cross_entropy(H, Y)``; when ``opt`` is given,
    ``opt.zero_grad(); loss.backward(); opt.step()``.  Returns
    ``(mean 0-1 error, mean loss)`` as Python floats, each averaged over
    batches (not samples).  With ``opt=None`` no parameter is changed.
    """
    total_err, total_loss, n_batches = 0.0, 0.0, 0
    for i in range(0, X_full.shape[0], batch_size):
        X, Y = X_full[i : i + batch_size], Y_full[i : i + batch_size]
        H = model(X)
        loss = F.cross_entropy(H, Y)
        if opt is not None:
            opt.zero_grad()
            loss.backward()
            opt.step()
        total_err += float(loss_01(H, Y))
        total_loss += loss.item()
        n_batches += 1
    return total_err / n_batches, total_loss / n_batches
