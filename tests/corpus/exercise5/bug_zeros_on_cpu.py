# hint: torch\.zeros\(X\.shape\)
"""Exercise 5: the result starts as torch.zeros(X.shape): float32 on the CPU whatever X is."""
import torch
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        out = torch.zeros(X.shape)
        mask = X > 0
        out[mask] = X[mask].to(out.dtype)
        return out
