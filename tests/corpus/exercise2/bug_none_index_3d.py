# hint: 2-D|1-D|3-D
"""Exercise 2: log-softmax with m[:, None]: right for 2-D input only.

Shape seen in public course code (log-softmax helpers written with [:, None] in public course code); written fresh for this corpus."""
import torch


def log_softmax(x):
    m = x.max(-1).values
    z = x - m[:, None]
    return z - torch.log(torch.exp(z).sum(-1))[:, None]
