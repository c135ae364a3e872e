"""Reference plain SGD (exercise 7)."""

import torch

__all__ = ["SGD"]


class SGD:
    """``p <- p - lr * p.grad`` for every parameter that has a gradient, with
    optional heavy-ball momentum (``buf <- momentum * buf + grad``, then
    ``p <- p - lr * buf``; the first step takes ``buf = grad``).

    ``params`` may be any iterable, including the one-shot generator returned
    by ``model.parameters()``; it is materialised once.  The update is done in
    place under ``torch.no_grad()`` with the same operations as
    ``torch.optim.SGD`` (``mul_``, ``add_(..., alpha=...)``), so results match it
    exactly, without the seconds torch.optim's first step spends on imports.
    ``zero_grad`` sets every gradient to ``None`` (torch's default).
    """

    def __init__(self, params, lr=1.0, momentum=0.0):
        self.params = list(params)
        self.lr = lr
        self.momentum = momentum
        self.buffers = {}

    @torch.no_grad()
    def step(self):
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            step = p.grad
            if self.momentum:
                buf = self.buffers.get(i)
                if buf is None:
                    buf = self.buffers[i] = torch.clone(step).detach()
                else:
                    buf.mul_(self.momentum).add_(step)
                step = buf
            p.add_(step, alpha=-self.lr)

    def zero_grad(self):
        for p in self.params:
            p.grad = None
