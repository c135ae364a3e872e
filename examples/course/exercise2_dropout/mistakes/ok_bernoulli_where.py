"""A correct answer written another way: the mask drawn by Tensor.bernoulli_ (keep with probability 1 - p), then torch.where."""

import torch


def dropout(x, p=0.5, training=True, generator=None):
    if not training:
        return x
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.empty_like(x).bernoulli_(1 - p, generator=generator).bool()
    return torch.where(keep, x / (1 - p), torch.zeros_like(x))
