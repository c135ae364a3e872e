# hint: (lost its dimension|shapes don.t broadcast).*keepdim=True
"""Exercise 3: cross-entropy whose log-sum-exp loses its dimension."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    z = logits - logits.max(dim=1, keepdim=True).values
    log_probs = z - torch.logsumexp(z, dim=1)
    return -log_probs[torch.arange(logits.shape[0]), targets].mean()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
