# hint: summed over the whole tensor
"""Exercise 2: log-softmax normalised by the sum of every entry."""
import torch


def log_softmax(x):
    z = x - x.max()
    return z - torch.log(torch.exp(z).sum())
