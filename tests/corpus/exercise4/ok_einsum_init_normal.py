"""Exercise 4: nn.init.normal_ with the right std, einsum in forward."""
import math

import torch
from torch import nn


class Linear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, init_factor=2.0):
        super().__init__()
        weight = torch.empty(in_dim, out_dim)
        nn.init.normal_(weight, mean=0.0, std=math.sqrt(init_factor / in_dim))
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None

    def forward(self, X):
        out = torch.einsum("...i,io->...o", X, self.weight)
        return out if self.bias is None else out + self.bias
