# hint: dict
"""Exercise 6: layers kept in a dict keyed by the layer object.

Shape seen in public course code (containers that keep layers as dict keys, seen in public from-scratch repos); written fresh for this corpus."""
from torch import nn


class Sequential(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.order = {}
        for i, layer in enumerate(layers):
            self.add_module(str(i), layer)
            self.order[layer] = i

    def forward(self, X):
        for layer in self.order:
            X = layer(X)
        return X
