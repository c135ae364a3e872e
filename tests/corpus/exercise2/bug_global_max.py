# hint: max of the whole tensor, not each row's own max
"""Exercise 2: log-softmax shifted by the largest entry of the whole tensor."""
import torch


def log_softmax(x):
    z = x - x.max()
    return z - torch.log(torch.exp(z).sum(dim=-1, keepdim=True))
