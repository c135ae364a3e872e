# hint: return
"""Exercise 6: forward that forgets to return.

Shape seen in public course code (a forgotten return, common in public homework code); written fresh for this corpus."""
from torch import nn


class Sequential(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, X):
        for layer in self.layers:
            X = layer(X)
