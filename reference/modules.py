"""Reference layers (exercises 3-6) and the two-layer network of the course."""

import math

import torch
from torch import nn

from .functional import cross_entropy

__all__ = ["CrossEntropyLoss", "Linear", "ReLU", "Sequential", "two_layer_net"]


class CrossEntropyLoss(nn.Module):
    """Module form of :func:`reference.cross_entropy` (mean over the batch)."""

    def forward(self, H, Y):
        return cross_entropy(H, Y)


class Linear(nn.Module):
    """Fully connected layer ``X @ weight + bias`` in the course's layout.

    ``weight`` is a Parameter of shape ``(in_dim, out_dim)`` -- the transpose
    of ``torch.nn.Linear``'s -- with entries drawn from
    ``N(0, init_factor / in_dim)`` (a variance: std ``sqrt(init_factor/in_dim)``;
    the default 2.0 is He/Kaiming initialisation for ReLU networks).
    ``bias`` is a zero Parameter of shape ``(out_dim,)``, or ``None`` when
    ``bias=False``.  The weight is drawn with one ``torch.randn(in_dim, out_dim)``
    call, so under the same seed it equals ``torch.randn(in_dim, out_dim) * std``.
    """

    def __init__(self, in_dim, out_dim, bias=True, init_factor=2.0):
        super().__init__()
        self.in_dim = in_dim
        self.out_dim = out_dim
        std = math.sqrt(init_factor / in_dim)
        self.weight = nn.Parameter(torch.randn(in_dim, out_dim).mul_(std))
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_dim))
        else:
            self.register_parameter("bias", None)

    def forward(self, X):
        if self.bias is None:
            return torch.matmul(X, self.weight)
        # the bias (out_dim,) broadcasts over every leading dimension of X
        return torch.matmul(X, self.weight) + self.bias

    def extra_repr(self):
        return f"in_dim={self.in_dim}, out_dim={self.out_dim}, bias={self.bias is not None}"


class ReLU(nn.Module):
    """Elementwise ``max(X, 0)``; has no parameters and no buffers."""

    def forward(self, X):
        return torch.relu(X)


class Sequential(nn.Module):
    """Applies its layers in order; layer i is registered as submodule ``str(i)``.

    Parameter names therefore match ``torch.nn.Sequential`` ("0.weight", ...).
    """

    def __init__(self, *layers):
        super().__init__()
        for i, layer in enumerate(layers):
            self.add_module(str(i), layer)

    def forward(self, X):
        for layer in self.children():
            X = layer(X)
        return X

    def __len__(self):
        return len(self._modules)

    def __getitem__(self, i):
        return list(self._modules.values())[i]


def two_layer_net(in_dim=784, hidden=100, out_dim=10):
    """``Sequential(Linear(in_dim, hidden), ReLU(), Linear(hidden, out_dim))``."""
    return Sequential(Linear(in_dim, hidden), ReLU(), Linear(hidden, out_dim))
