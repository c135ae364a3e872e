# hint: (only.{0,40}2-D|2-D.{0,40}only)
"""Exercise 2: log-softmax for an (n, k) batch, over dim 1."""
import torch


def log_softmax(x):
    n, k = x.shape
    m = x.max(dim=1, keepdim=True).values
    return (x - m) - torch.log(torch.exp(x - m).sum(dim=1, keepdim=True))
