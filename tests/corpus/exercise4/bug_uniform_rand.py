# hint: torch\.rand\b|uniform
"""Exercise 4: weights from torch.rand (uniform on [0, 1)) scaled like randn.

Shape seen in public course code (Linear layers initialised with torch.rand in public homework code); written fresh for this corpus."""
import math
import torch
from torch import nn


class Linear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, init_factor=2.0):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(in_dim, out_dim) * math.sqrt(init_factor / in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None

    def forward(self, X):
        y = torch.matmul(X, self.weight)
        if self.bias is not None:
            y = y + self.bias
        return y
