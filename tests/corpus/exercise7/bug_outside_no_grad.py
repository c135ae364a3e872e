# hint: leaf tensor that requires grad.*torch\.no_grad
"""Exercise 7: SGD -- the in-place update is recorded by autograd (no torch.no_grad)."""
import torch


class SGD:
    def __init__(self, params, lr=1.0):
        self.params = list(params)
        self.lr = lr

    def step(self):
        for p in self.params:
            if p.grad is not None:
                p -= self.lr * p.grad

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad.zero_()
