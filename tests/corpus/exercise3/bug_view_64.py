# hint: batch size 64 seems hard-coded.*view\(64, 1\)
"""Exercise 3: cross-entropy as in the course notes, reshaping to a batch of 64."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    lse = torch.logsumexp(logits, dim=1).view(64, 1)
    log_probs = logits - lse
    return -log_probs[torch.arange(logits.shape[0]), targets].mean()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
