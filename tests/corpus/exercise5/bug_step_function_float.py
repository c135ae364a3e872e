# hint: not a step function
"""Exercise 5: a step function, returned as float32 whatever X's dtype."""
from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        return (X > 0).float()
