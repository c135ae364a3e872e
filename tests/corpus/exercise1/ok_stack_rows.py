"""Exercise 1: correct: flattens to rows, normalises each, restores the shape.

Shape seen in public course code (row-wise helpers in public course code); written fresh for this corpus."""
import torch


def softmax(x):
    rows = x.reshape(-1, x.shape[-1])
    m = rows.max(dim=1, keepdim=True).values
    e = torch.exp(rows - m)
    return (e / e.sum(dim=1, keepdim=True)).reshape(x.shape)
