# hint: instead of a Python list
"""Exercise 1: softmax handed back as nested Python lists."""
import torch


def softmax(x):
    e = torch.exp(x - x.max(dim=-1, keepdim=True).values)
    return (e / e.sum(dim=-1, keepdim=True)).tolist()
