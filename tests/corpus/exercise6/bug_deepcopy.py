# hint: not copies
"""Exercise 6: copies of the layers are stored, so the caller's layers are never trained."""
import copy

from torch import nn


class Sequential(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for layer in layers)

    def forward(self, X):
        for layer in self.layers:
            X = layer(X)
        return X
