"""Exercise 5 -- model answer: the rectified linear unit."""

from torch import nn


class ReLU(nn.Module):
    def forward(self, X):
        return X.clamp(min=0)
