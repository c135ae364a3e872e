# hint: ReLU has nothing to learn
"""Exercise 5: the zero to compare with is registered as an nn.Parameter."""
import torch
from torch import nn


class ReLU(nn.Module):
    def __init__(self):
        super().__init__()
        self.zero = nn.Parameter(torch.zeros(()), requires_grad=False)

    def forward(self, X):
        return torch.maximum(X, self.zero.to(X.dtype))
