# hint: don't modify the input: in-place
"""Exercise 3: cross-entropy that shifts the logits in place."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    logits -= logits.max(dim=1, keepdim=True).values
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs[torch.arange(logits.shape[0]), targets].mean()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
