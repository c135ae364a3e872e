# hint: keep the input's dtype
"""Exercise 1: softmax written into a freshly allocated output tensor."""
import torch


def softmax(x):
    z = x - x.max(dim=-1, keepdim=True).values
    e = torch.exp(z)
    out = torch.zeros(x.shape)
    out[...] = e / e.sum(dim=-1, keepdim=True)
    return out
