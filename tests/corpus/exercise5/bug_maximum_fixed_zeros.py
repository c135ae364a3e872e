# hint: torch\.zeros\(X\.shape\)
"""Exercise 5: torch.maximum against a float32 CPU zeros tensor promotes half-precision inputs."""
import torch
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        return torch.maximum(X, torch.zeros(X.shape))
