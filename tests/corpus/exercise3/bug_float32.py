# hint: keep the input's dtype
"""Exercise 3: cross-entropy that makes sure the scores are float first."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    logits = logits.float()
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs[torch.arange(logits.shape[0]), targets].mean()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
