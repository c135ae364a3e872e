# hint: in place
"""Exercise 5: zeroes X.data where negative and returns X.

Shape seen in public course code (in-place relu through .data in from-scratch repos); written fresh for this corpus."""
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        X.data[X.data < 0] = 0
        return X
