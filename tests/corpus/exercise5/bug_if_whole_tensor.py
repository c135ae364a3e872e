# hint: ambiguous|elementwise|one True/False
"""Exercise 5: ReLU written as an if on the whole tensor.

Shape seen in public course code (scalar-style relu(z) helpers applied to tensors, from public homework code); written fresh for this corpus."""
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        if X > 0:
            return X
        return X * 0
