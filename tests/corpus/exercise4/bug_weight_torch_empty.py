# hint: uninitialised memory
"""Exercise 4: parameters allocated with torch.empty and never filled."""
import torch
from torch import nn


class Linear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, init_factor=2.0):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_dim, out_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None

    def forward(self, X):
        result = X @ self.weight
        if self.bias is not None:
            result += self.bias
        return result
