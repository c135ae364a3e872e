# hint: MEAN over the batch: use \.mean\(\), not \.sum\(\)
"""Exercise 3: cross-entropy summed over the batch."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    n = logits.shape[0]
    return -log_probs[torch.arange(n), targets].sum()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
