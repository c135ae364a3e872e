# hint: negative entries must become 0|leaky
"""Exercise 5: a leaky ReLU (0.01 * X below zero).

Shape seen in public course code (leaky relu helpers next to relu in public course code); written fresh for this corpus."""
import torch
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        return torch.where(X > 0, X, 0.01 * X)
