# hint: 2-D|1-D|3-D
"""Exercise 1: the row max re-expanded with [:, None]: right for 2-D input only.

Shape seen in public course code (a softmax using max(axis=-1) and s[:, None], from public course code); written fresh for this corpus."""
import torch


def softmax(x):
    top = torch.max(x, axis=-1).values
    e = torch.exp(x - top[:, None])
    total = torch.sum(e, axis=-1)
    return e / total[:, None]
