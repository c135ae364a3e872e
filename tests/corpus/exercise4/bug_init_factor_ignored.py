# hint: init_factor is ignored
"""Exercise 4: the He factor 2 hard-coded, the init_factor argument ignored."""
import math

import torch
from torch import nn


class Linear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, init_factor=2.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_dim, out_dim) * math.sqrt(2 / in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None

    def forward(self, X):
        out = X @ self.weight
        if self.bias is not None:
            out = out + self.bias
        return out
