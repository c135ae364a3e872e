"""Exercise 7: SGD writing the new values with copy_ and keeping list(params)."""
import torch


class SGD:
    def __init__(self, params, lr=1.0):
        self.params = []
        for p in params:
            self.params.append(p)
        self.lr = lr

    def step(self):
        with torch.no_grad():
            for p in self.params:
                if p.grad is not None:
                    p.copy_(p - self.lr * p.grad)

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad.fill_(0.0)
