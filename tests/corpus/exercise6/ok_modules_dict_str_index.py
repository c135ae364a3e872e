"""Exercise 6: correct: each layer stored in self._modules under its position.

Shape seen in public course code (LI-Ke/Deep-Learning-Handbook-PyTorch, Bin-Ro/dive_into_deeplearning); written fresh for this corpus."""
from torch import nn


class Sequential(nn.Module):
    def __init__(self, *layers):
        super().__init__()
        for idx, module in enumerate(layers):
            self._modules[str(idx)] = module

    def forward(self, X):
        for block in self._modules.values():
            X = block(X)
        return X
