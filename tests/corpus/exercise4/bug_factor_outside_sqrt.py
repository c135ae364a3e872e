# hint: variance|sqrt|std
"""Exercise 4: init_factor / sqrt(in_dim) instead of sqrt(init_factor / in_dim).

Shape seen in public course code (He-initialisation helpers in public course code); written fresh for this corpus."""
import math
import torch
from torch import nn


class Linear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, init_factor=2.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_dim, out_dim) * (init_factor / math.sqrt(in_dim)))
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None

    def forward(self, X):
        out = X @ self.weight
        if self.bias is not None:
            out = out + self.bias
        return out
