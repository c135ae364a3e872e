# hint: right for a 2-D input \(n, k\) only
"""Exercise 1: softmax one row at a time."""
import torch


def softmax(x):
    out = torch.empty_like(x)
    for i in range(x.shape[0]):
        row = x[i]
        e = torch.exp(row - row.max())
        out[i] = e / e.sum()
    return out
