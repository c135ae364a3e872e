# hint: log-sum-exp term is missing
"""Exercise 3: cross-entropy from the max-shifted scores alone."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    scores = logits - logits.max(dim=1, keepdim=True).values
    rows = torch.arange(len(targets))
    return -scores[rows, targets].mean()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
