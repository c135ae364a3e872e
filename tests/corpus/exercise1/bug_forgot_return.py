# hint: forget the `return` statement
"""Exercise 1: softmax that computes the answer and drops it."""
import torch


def softmax(x):
    e = torch.exp(x - x.max(dim=-1, keepdim=True).values)
    probs = e / e.sum(dim=-1, keepdim=True)
