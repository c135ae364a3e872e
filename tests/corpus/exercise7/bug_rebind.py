# hint: only rebinds the loop variable
"""Exercise 7: SGD -- the update rebinds the loop variable instead of changing the parameter."""
import torch


class SGD:
    def __init__(self, params, lr=1.0):
        self.params = list(params)
        self.lr = lr

    def step(self):
        with torch.no_grad():
            for p in self.params:
                if p.grad is not None:
                    p = p - self.lr * p.grad

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad.zero_()
