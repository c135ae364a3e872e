# hint: logits\[:, targets\].*one entry per row
"""Exercise 3: cross-entropy that picks the targets' column for every row."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    z = logits - logits.max(dim=-1, keepdim=True).values
    log_probs = z - torch.logsumexp(z, dim=-1, keepdim=True)
    return -log_probs[:, targets].mean()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
