# hint: one loss per sample.*\.mean\(\)
"""Exercise 3: cross-entropy that hands back every sample's loss."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    lse = torch.logsumexp(logits, dim=-1)
    picked = logits[torch.arange(logits.shape[0]), targets]
    return lse - picked


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
