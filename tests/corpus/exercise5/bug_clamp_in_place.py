# hint: Don't modify X in place
"""Exercise 5: clamp_ (with the underscore) changes the caller's X."""
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        return X.clamp_(min=0)
