"""Reference plain SGD (exercise 7)."""
import torch

__all__ = ["SGD"]


class SGD:
    """``p <- p - lr * p.grad`` for every parameter that has a gradient.

    ``params`` may be any iterable, including the one-shot generator returned
    by ``model.parameters()``; it is materialised once.  The update is done in
    place under ``torch.no_grad()`` with ``add_(grad, alpha=-lr)``, the same
    operation ``torch.optim.SGD`` uses, so results match it exactly.
    ``zero_grad`` sets every gradient to ``None`` (torch's default).
    """

    def __init__(self, params, lr=1.0):
        self.params = list(params)
        self.lr = lr

    @torch.no_grad()
    def step(self):
        for p in self.params:
            if p.grad is not None:
                p.add_(p.grad, alpha=-self.lr)

    def zero_grad(self):
        for p in self.params:
            p.grad = None
