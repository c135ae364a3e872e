"""Exercise 6 -- model answer: a container that chains layers."""

from torch import nn


class Sequential(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        # nn.ModuleList registers every layer, so its parameters are found by
        # .parameters() and moved by .to(); a plain Python list would hide them.
        self.layers = nn.ModuleList(layers)

    def forward(self, X):
        for layer in self.layers:
            X = layer(X)
        return X
