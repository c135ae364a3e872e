# hint: decay|schedule|sqrt
"""Exercise 7: the learning rate decays as lr / sqrt(t + 1).

Shape seen in public course code (SGD classes with a step counter in public from-scratch repos); written fresh for this corpus."""
import math
import torch


class SGD:
    def __init__(self, params, lr=1.0):
        self.params = list(params)
        self.lr = lr
        self.t = 0

    def step(self):
        rate = self.lr / math.sqrt(self.t + 1)
        self.t += 1
        with torch.no_grad():
            for p in self.params:
                if p.grad is not None:
                    p -= rate * p.grad

    def zero_grad(self):
        for p in self.params:
            p.grad = None
