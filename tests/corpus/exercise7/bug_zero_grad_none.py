# hint: zero_grad must not fail for a parameter that has no gradient
"""Exercise 7: SGD -- zero_grad assumes every parameter already has a .grad."""
import torch


class SGD:
    def __init__(self, params, lr=1.0):
        self.params = list(params)
        self.lr = lr

    def step(self):
        with torch.no_grad():
            for p in self.params:
                if p.grad is not None:
                    p -= self.lr * p.grad

    def zero_grad(self):
        for p in self.params:
            p.grad.zero_()
