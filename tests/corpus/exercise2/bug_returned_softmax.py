# hint: returned the softmax itself
"""Exercise 2: log-softmax that forgot the log."""
import torch


def log_softmax(x):
    e = torch.exp(x - x.max(dim=-1, keepdim=True).values)
    return e / e.sum(dim=-1, keepdim=True)
