# hint: generator.*(used-up|read only once)
"""Exercise 7: SGD -- counts the parameters first, which uses the generator up before list()."""
import torch


class SGD:
    def __init__(self, params, lr=1.0):
        self.n_params = sum(1 for _ in params)
        self.params = list(params)
        self.lr = lr

    def step(self):
        with torch.no_grad():
            for p in self.params:
                if p.grad is not None:
                    p -= self.lr * p.grad

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad.zero_()
