# hint: keepdim=True.*unsqueeze
"""Exercise 2: log-softmax that unsqueezes the max but not the log-sum."""
import torch


def log_softmax(x):
    z = x - x.max(dim=-1).values.unsqueeze(-1)
    return z - torch.log(torch.exp(z).sum(dim=-1))
