# hint: -inf·0 = nan
"""Exercise 5: multiplying by the mask turns -inf into nan (-inf * 0)."""
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        return X * (X > 0)
