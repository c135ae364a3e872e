# hint: batch size 64 seems hard-coded
"""Exercise 2: log-softmax as in the course notes, for batches of 64 rows."""
import torch


def log_softmax(x):
    m = torch.amax(x, dim=-1).view(64, 1)
    lse = torch.log(torch.exp(x - m).sum(dim=-1)).view(64, 1)
    return x - m - lse
