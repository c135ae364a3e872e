# hint: super\(\)\.__init__\(\)
"""Exercise 6: super().__init__() never called."""
from torch import nn


class Sequential(nn.Module):
    def __init__(self, *layers):
        self.layers = nn.ModuleList(layers)

    def forward(self, X):
        for layer in self.layers:
            X = layer(X)
        return X
