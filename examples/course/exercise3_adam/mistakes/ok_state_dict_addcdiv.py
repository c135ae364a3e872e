"""A correct answer written another way: the state in a dict per parameter, made at its first step, and
torch.optim's arrangement of the bias correction (a step size, the square root's correction in the denominator)."""

import math

import torch


class Adam:
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self.params = list(params)
        self.lr, (self.beta1, self.beta2), self.eps, self.weight_decay = lr, betas, eps, weight_decay
        self.state = [{} for _ in self.params]
        self.steps = 0

    def step(self):
        self.steps += 1
        step_size = self.lr / (1 - self.beta1**self.steps)
        root_correction = math.sqrt(1 - self.beta2**self.steps)
        with torch.no_grad():
            for p, state in zip(self.params, self.state):
                if p.grad is None:
                    continue
                g = p.grad.add(p, alpha=self.weight_decay) if self.weight_decay else p.grad
                if not state:
                    state["exp_avg"], state["exp_avg_sq"] = torch.zeros_like(p), torch.zeros_like(p)
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.lerp_(g, 1 - self.beta1)
                v.mul_(self.beta2).add_(g * g, alpha=1 - self.beta2)
                p.addcdiv_(m, v.sqrt() / root_correction + self.eps, value=-step_size)

    def zero_grad(self):
        for p in self.params:
            if p.grad is not None:
                p.grad.zero_()
