# hint: (only.{0,40}2-D|2-D.{0,40}only)
"""Exercise 1: softmax over dim 1 (the classes of an (n, k) batch)."""
import torch


def softmax(x):
    z = x - x.max(dim=1, keepdim=True).values
    e = torch.exp(z)
    return e / e.sum(dim=1, keepdim=True)
