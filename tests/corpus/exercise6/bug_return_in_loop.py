# hint: Only the first layer was applied
"""Exercise 6: the return statement is inside the loop."""
from torch import nn


class Sequential(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, X):
        for layer in self.layers:
            X = layer(X)
            return X
        return X
