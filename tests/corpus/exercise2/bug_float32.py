# hint: keep the input's dtype
"""Exercise 2: log-softmax that converts its input to float first."""
import torch


def log_softmax(x):
    x = x.to(torch.float32)
    z = x - x.max(dim=-1, keepdim=True).values
    return z - torch.log(torch.exp(z).sum(dim=-1, keepdim=True))
