# hint: subtract each row's max
"""Exercise 1: softmax, straight from the formula (no max shift)."""
import torch


def softmax(x):
    exps = torch.exp(x)
    return exps / exps.sum(dim=-1, keepdim=True)
