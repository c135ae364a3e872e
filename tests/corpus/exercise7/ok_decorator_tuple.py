"""Exercise 7: SGD with @torch.no_grad() on step, a tuple of parameters and sub_."""
import torch


class SGD:
    def __init__(self, params, lr=1.0):
        self.lr = float(lr)
        self.params = tuple(p for p in params)

    @torch.no_grad()
    def step(self):
        for p in filter(lambda q: q.grad is not None, self.params):
            p.sub_(self.lr * p.grad)

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad.detach_()
                p.grad.zero_()
