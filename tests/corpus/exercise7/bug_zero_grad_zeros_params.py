# hint: zero_grad clears the GRADIENTS.*never the parameters
"""Exercise 7: SGD -- zero_grad erases the parameters instead of their gradients."""
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
            p.data.zero_()
