"""Exercise 5: torch.maximum against torch.zeros_like(X), with an __init__."""
import torch
from torch import nn


class ReLU(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, X):
        return torch.maximum(X, torch.zeros_like(X))
