# hint: keepdim|broadcast
"""Exercise 2: the row normaliser unsqueezed on the wrong side.

Shape seen in public course code (log-softmax written with unsqueeze in public homework code); written fresh for this corpus."""
import torch


def log_softmax(x):
    m = x.max(dim=-1).values
    z = x - m.unsqueeze(-1)
    norm = torch.log(torch.exp(z).sum(dim=-1))
    return z - norm.unsqueeze(0)
