"""The reference for exercise 3 (Adam): torch.optim.Adam's update (weight decay added to the
gradient), written apart from the model answer, in float64 on the grader's own copies of the
parameters (named tensors)."""

import math

import torch


class Adam:
    def __init__(self, params: dict, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params = {n: p.detach().double().clone() for n, p in params.items()}
        self.lr, self.betas, self.eps, self.weight_decay = lr, tuple(betas), eps, weight_decay
        self.state = {n: (torch.zeros_like(p), torch.zeros_like(p)) for n, p in self.params.items()}
        self.steps = 0

    def step(self, grads: dict) -> dict:
        """One step with the gradients ``grads`` (name -> tensor, or None for no gradient): the parameters after it."""
        self.steps += 1
        b1, b2 = self.betas
        for n, p in self.params.items():
            if grads.get(n) is None:
                continue
            g = grads[n].double() + self.weight_decay * p
            m, v = self.state[n]
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g.square()
            self.state[n] = (m, v)
            step_size = self.lr / (1 - b1**self.steps)
            denom = v.sqrt() / math.sqrt(1 - b2**self.steps) + self.eps
            self.params[n] = p - step_size * m / denom
        return dict(self.params)
