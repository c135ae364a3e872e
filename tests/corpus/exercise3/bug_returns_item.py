# hint: instead of calling \.item\(\)
"""Exercise 3: cross-entropy returned as a Python number."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    loss = -log_probs[torch.arange(logits.shape[0]), targets].mean()
    return loss.item()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
