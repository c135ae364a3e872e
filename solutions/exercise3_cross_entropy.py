"""Exercise 3 -- model answer: cross-entropy loss, as a function and as a module."""

import torch
from torch import nn


def cross_entropy(logits, targets):
    # Log-probabilities of every class: shift by the row max, then subtract
    # log sum exp.  The shifted logsumexp lies in [0, log k], so it is accurate.
    z = logits - logits.max(dim=-1, keepdim=True).values
    log_probs = z - torch.logsumexp(z, dim=-1, keepdim=True)
    # Pick, for sample i, the log-probability of its own class targets[i].
    n = logits.shape[0]
    rows = torch.arange(n, device=logits.device)
    return -log_probs[rows, targets].mean()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
