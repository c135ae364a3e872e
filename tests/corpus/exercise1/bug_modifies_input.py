# hint: don't modify the input: in-place
"""Exercise 1: softmax that saves memory by working in x itself."""
import torch


def softmax(x):
    x -= x.max(dim=-1, keepdim=True).values
    x.exp_()
    return x / x.sum(dim=-1, keepdim=True)
