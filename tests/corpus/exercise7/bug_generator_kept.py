# hint: generator.*list\(params\)
"""Exercise 7: SGD -- keeps the generator model.parameters(), which the first step uses up."""
import torch


class SGD:
    def __init__(self, params, lr=1.0):
        self.params = params
        self.lr = lr

    def step(self):
        with torch.no_grad():
            for p in self.params:
                if p.grad is not None:
                    p -= self.lr * p.grad

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad = None
