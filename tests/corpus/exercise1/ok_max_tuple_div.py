"""Exercise 1: softmax with the (values, indices) pair of max unpacked and torch.div."""
import torch


def softmax(x):
    m, _ = torch.max(x, dim=x.dim() - 1, keepdim=True)
    e = torch.exp(torch.sub(x, m))
    return torch.div(e, torch.sum(e, dim=x.dim() - 1, keepdim=True))
