# hint: plain Python list or tuple hides them
"""Exercise 6: the *layers tuple stored as it is (not registered)."""
from torch import nn


class Sequential(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.layers = layers

    def forward(self, X):
        out = X
        for layer in self.layers:
            out = layer(out)
        return out
