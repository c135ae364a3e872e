"""Exercise 5: torch.where with a Python 0."""
import torch
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        return torch.where(X > 0, X, 0)
