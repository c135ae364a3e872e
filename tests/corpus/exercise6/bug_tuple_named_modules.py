# hint: ModuleList|register
"""Exercise 6: the layers kept as a plain tuple named `modules`.

Shape seen in public course code (kohjiahng/Autograd, rajatmohan/autograd-and-nn-from-scratch); written fresh for this corpus."""
from torch import nn


class Sequential(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.modules_ = layers

    def forward(self, X):
        for module in self.modules_:
            X = module(X)
        return X
