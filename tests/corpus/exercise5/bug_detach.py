# hint: no \.detach\(\)
"""Exercise 5: the output is cut from the graph."""
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        return X.detach().clamp(min=0)
