"""Exercise 7: stochastic gradient descent.  Replace the ``raise`` lines."""
import torch


class SGD:
    """Plain gradient descent: for every parameter p, ``p <- p - lr * p.grad``.

    __init__(params, lr=1.0): ``params`` is an iterable of tensors, often the
    GENERATOR ``model.parameters()``; store ``list(params)`` (a generator can
    be read only once, so the second step would see no parameters).

    step(): update every parameter IN PLACE from its current ``.grad``.
      * Do it under ``with torch.no_grad():`` -- the update is not part of the
        model and must not be recorded by autograd (otherwise PyTorch refuses
        to modify a leaf that requires grad).
      * In place means ``p -= lr * p.grad`` or ``p.add_(p.grad, alpha=-lr)``.
        ``p = p - lr * p.grad`` only rebinds a local name: the model's
        parameter never changes.  ``p.data = ...`` is not needed either.
      * Skip parameters whose ``.grad`` is None (they did not take part in
        the loss).

    zero_grad(): clear the gradients before the next backward (backward ADDS
    to .grad).  Either set ``p.grad = None`` or zero it in place with
    ``p.grad.zero_()``; it must not fail for parameters that have no grad yet.

    Neither method returns anything.

    Forbidden: torch.optim (torch.optim.SGD or any other optimizer, the
    functional torch.optim.sgd.sgd) and the kernels they run: torch._fused_sgd_
    and the torch._foreach_* ops (_foreach_add_, _foreach_mul_, ...).
    Allowed: torch.no_grad, in-place tensor ops (sub_, add_, zero_, -=).
    """

    def __init__(self, params, lr=1.0):
        raise NotImplementedError("SGD.__init__(params, lr) is not written yet: see the class docstring")

    def step(self):
        raise NotImplementedError("SGD.step() is not written yet: see the class docstring")

    def zero_grad(self):
        raise NotImplementedError("SGD.zero_grad() is not written yet: see the class docstring")
