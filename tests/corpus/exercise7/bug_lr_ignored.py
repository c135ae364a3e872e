# hint: learning rate is ignored
"""Exercise 7: SGD -- the learning rate is stored but never used."""
import torch


class SGD:
    def __init__(self, params, lr=1.0):
        self.params = list(params)
        self.lr = lr

    def step(self):
        with torch.no_grad():
            for p in self.params:
                if p.grad is not None:
                    p.sub_(p.grad)

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad.zero_()
