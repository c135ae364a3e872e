# hint: not a step function
"""Exercise 5: the derivative of ReLU (a step) instead of ReLU itself."""
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        return (X > 0).to(X.dtype)
