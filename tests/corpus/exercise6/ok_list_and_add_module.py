"""Exercise 6: correct: a plain list for order plus add_module for registration.

Shape seen in public course code (aicf_fw-style Sequential seen in public code); written fresh for this corpus."""
from torch import nn


class Sequential(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        self.chain = []
        for i, m in enumerate(layers):
            self.chain.append(m)
            self.add_module(str(i), m)

    def forward(self, X):
        for m in self.chain:
            X = m(X)
        return X
