# hint: Don't modify X in place
"""Exercise 5: the negative entries of the caller's X are zeroed in place."""
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        X[X < 0] = 0
        return X
