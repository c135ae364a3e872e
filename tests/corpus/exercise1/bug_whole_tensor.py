# hint: normalise over the whole tensor
"""Exercise 1: softmax with the max and the sum taken over everything."""
import torch


def softmax(x):
    e = torch.exp(x - x.max())
    return e / e.sum()
