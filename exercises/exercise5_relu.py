"""Exercise 5: the ReLU activation.  Replace the ``raise`` below with your code."""
import torch
from torch import nn


class ReLU(nn.Module):
    """Rectified linear unit, elementwise: ``ReLU(x) = max(x, 0)``.

    forward(X) takes a tensor of any shape and returns a tensor of the same
    shape, dtype and device: negative entries (-inf too) become 0, non-negative entries
    are passed through unchanged.

        ReLU()(torch.tensor([-2., 0., 3.])) -> tensor([0., 0., 3.])

    The layer has NO parameters: you don't need an ``__init__`` at all (if you
    write one, call ``super().__init__()`` and create no tensors).

    Traps:
      * ReLU is not a step function: positive inputs keep their value, they
        do not become 1.
      * Don't modify X in place (no ``X[X < 0] = 0``, no ``X.clamp_(...)``):
        the caller and autograd may still need the original values.
      * Don't create a fresh zeros tensor with a fixed dtype or device; if you
        compare against zero, use a Python 0 or ``torch.zeros_like(X)``.
      * Gradients must flow through: don't call ``.detach()``, ``.numpy()``
        or ``.item()``.

    Forbidden: relu in any spelling -- torch.relu, torch.relu_,
    torch.nn.functional.relu, nn.ReLU, Tensor.relu.  The point is to write it
    yourself, so every activation that computes a ReLU counts too: F.threshold,
    F.hardtanh, F.relu6, F.leaky_relu (leaky_relu(x, 0) is a ReLU), torch.prelu,
    F.rrelu, F.elu and F.celu (and their nn modules).
    Allowed: Tensor.clamp(min=0), torch.maximum, torch.where, comparisons.
    """

    def forward(self, X):
        raise NotImplementedError("ReLU.forward(X) is not written yet: see the class docstring")
