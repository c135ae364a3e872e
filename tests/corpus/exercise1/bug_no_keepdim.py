# hint: (lost its dimension|shapes don.t broadcast).*keepdim=True
"""Exercise 1: softmax whose row sum loses its dimension."""
import torch


def softmax(x):
    z = x - x.max(dim=-1, keepdim=True).values
    e = torch.exp(z)
    return e / e.sum(dim=-1)
