# hint: not `\.numpy\(\)`
"""Exercise 1: softmax handed back as a numpy array."""
import torch


def softmax(x):
    z = x - x.max(dim=-1, keepdim=True).values
    p = torch.exp(z) / torch.exp(z).sum(dim=-1, keepdim=True)
    return p.detach().numpy()
