# hint: max shift m is applied to only one of the two terms
"""Exercise 2: log-softmax with the max shift inside the log only."""
import torch


def log_softmax(x):
    m = x.max(dim=-1, keepdim=True).values
    return x - torch.log(torch.exp(x - m).sum(dim=-1, keepdim=True))
