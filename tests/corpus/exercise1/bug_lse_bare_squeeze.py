# hint: size 1|squeeze
"""Exercise 1: softmax through a logsumexp whose keepdim is undone by a bare .squeeze().

Shape seen in public course code (logsumexp-based softmax helpers in public course code); written fresh for this corpus."""
import torch


def softmax(x):
    lse = torch.logsumexp(x, dim=-1, keepdim=True).squeeze()
    return torch.exp(x - lse.unsqueeze(-1))
