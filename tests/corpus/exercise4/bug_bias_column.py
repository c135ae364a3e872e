# hint: bias
"""Exercise 4: bias of shape (out_dim, 1).

Shape seen in public course code (column-vector biases in from-scratch MLP repos); written fresh for this corpus."""
import math
import torch
from torch import nn


class Linear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, init_factor=2.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_dim, out_dim) * math.sqrt(init_factor / in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim, 1)) if bias else None

    def forward(self, X):
        out = X @ self.weight
        if self.bias is not None:
            out = out + self.bias
        return out
