# hint: decay|schedule
"""Exercise 7: the learning rate halves after every step.

Shape seen in public course code (SGD classes with a decaying rate in public course code); written fresh for this corpus."""
import torch


class SGD:
    def __init__(self, params, lr=1.0):
        self.params = list(params)
        self.lr = lr

    def step(self):
        with torch.no_grad():
            for p in self.params:
                if p.grad is not None:
                    p.sub_(self.lr * p.grad)
        self.lr *= 0.5

    def zero_grad(self):
        for p in self.params:
            p.grad = None
