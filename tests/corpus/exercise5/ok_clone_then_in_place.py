"""Exercise 5: in-place work on a copy, never on the caller's X."""
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        out = X.clone()
        out[out < 0] = 0
        return out
