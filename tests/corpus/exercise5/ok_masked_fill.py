"""Exercise 5: masked_fill (out of place) on the negative entries."""
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        return X.masked_fill(X < 0, 0.0)
