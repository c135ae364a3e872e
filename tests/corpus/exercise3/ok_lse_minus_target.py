"""Exercise 3: cross-entropy as the mean of logsumexp(row) minus the target's score."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    target_scores = logits[range(len(targets)), targets]
    return (torch.logsumexp(logits, dim=-1) - target_scores).sum() / logits.shape[0]


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
