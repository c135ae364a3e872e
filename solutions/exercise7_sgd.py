"""Exercise 7 -- model answer: plain stochastic gradient descent."""

import torch


class SGD:
    def __init__(self, params, lr=1.0):
        self.params = list(params)  # params may be a one-shot generator
        self.lr = lr

    def step(self):
        with torch.no_grad():  # the update itself must not be recorded
            for p in self.params:
                if p.grad is not None:
                    p -= self.lr * p.grad  # in place: the model keeps this tensor

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad.zero_()
