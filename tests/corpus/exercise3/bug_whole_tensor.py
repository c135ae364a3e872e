# hint: log-sum-exp over the whole tensor
"""Exercise 3: cross-entropy normalised by the sum over every score."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    z = logits - logits.max()
    log_probs = z - torch.log(torch.exp(z).sum())
    return -log_probs[torch.arange(logits.shape[0]), targets].mean()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
