# hint: None|zero_\(\)|tensor
"""Exercise 7: zero_grad sets p.grad = 0 (a Python int).

Shape seen in public course code (SGD classes with `param.grad = 0` in public from-scratch repos); written fresh for this corpus."""
import torch


class SGD:
    def __init__(self, params, lr=1.0):
        self.params = list(params)
        self.lr = lr

    def step(self):
        for param in self.params:
            if param.grad is not None:
                param.data -= self.lr * param.grad

    def zero_grad(self):
        for param in self.params:
            param.grad = 0
