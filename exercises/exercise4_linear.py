"""Exercise 4: a fully connected (linear) layer.  Replace the ``raise`` lines."""
import math

import torch
from torch import nn


class Linear(nn.Module):
    """Fully connected layer: ``forward(X) = X @ weight + bias``.

    __init__(in_dim, out_dim, bias=True, init_factor=2.0) must create:
      * ``self.weight``: an ``nn.Parameter`` of shape (in_dim, out_dim), with
        entries drawn from the normal distribution N(0, init_factor / in_dim).
        init_factor / in_dim is the VARIANCE, so the standard deviation is
        std = sqrt(init_factor / in_dim):  torch.randn(in_dim, out_dim) * std
      * ``self.bias``: an ``nn.Parameter`` of zeros with shape (out_dim,), or
        ``None`` when ``bias=False``.

    forward(X): X has shape (batch, in_dim) (or more leading dimensions);
    return (batch, out_dim): X @ weight, plus bias when there is one (it
    broadcasts over the rows).

    Traps:
      * Call ``super().__init__()`` first, before assigning any attribute.
      * Wrap the tensors in ``nn.Parameter``; a plain tensor is not found by
        .parameters(), so no optimizer will ever train it.
      * The layout is (in_dim, out_dim), the TRANSPOSE of torch.nn.Linear's
        (out_dim, in_dim); forward is X @ weight, with no transpose.
      * Variance, not std: don't use init_factor / in_dim as the std.
      * nn.init.kaiming_normal_ on an (in, out) tensor uses the wrong fan
        (it assumes torch's (out, in) layout); scale randn yourself.
      * Don't hard-code the batch size; the result follows the parameters'
        dtype and device, so create nothing new inside forward.

    Forbidden: nn.Linear (and nn.LazyLinear), torch.nn.functional.linear.
    Allowed: torch.randn, torch.zeros, nn.Parameter, @ / torch.matmul, math.
    """

    def __init__(self, in_dim, out_dim, bias=True, init_factor=2.0):
        super().__init__()
        raise NotImplementedError("Linear.__init__ is not written yet: see the class docstring")

    def forward(self, X):
        raise NotImplementedError("Linear.forward(X) is not written yet: see the class docstring")
