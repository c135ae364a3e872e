# hint: max of the whole tensor, not each row's own max
"""Exercise 1: softmax shifted by the largest entry of the whole tensor."""
import torch


def softmax(x):
    e = torch.exp(x - torch.max(x))
    return e / torch.sum(e, dim=-1, keepdim=True)
