# hint: uninitiali[sz]ed
"""Exercise 4: bias made with torch.empty and never filled.

Shape seen in public course code (Linear layers built on torch.empty in public from-scratch repos); written fresh for this corpus."""
import math
import torch
from torch import nn


class Linear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, init_factor=2.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_dim, out_dim) * math.sqrt(init_factor / in_dim))
        self.bias = nn.Parameter(torch.empty(out_dim)) if bias else None

    def forward(self, X):
        out = X @ self.weight
        return out + self.bias if self.bias is not None else out
