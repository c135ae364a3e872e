# hint: returns a pair \(values, indices\)
"""Exercise 1: subtracts what torch.max(x, dim) returns (a pair).

Shape seen in public course code (a softmax written as torch.max(x, 0) then x - max, from public homework code); written fresh for this corpus."""
import torch


def softmax(x):
    biggest = torch.max(x, -1, keepdim=True)
    e = torch.exp(x - biggest)
    return e / e.sum(-1, keepdim=True)
