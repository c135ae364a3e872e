# hint: ambiguous|elementwise|one True/False
"""Exercise 5: Python's max(X, 0) on a tensor.

Shape seen in public course code (relu = max(0, x) written as in the maths, from public course code); written fresh for this corpus."""
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        return max(X, 0)
