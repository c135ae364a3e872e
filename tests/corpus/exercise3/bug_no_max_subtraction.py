# hint: subtract each row's max
"""Exercise 3: cross-entropy with log(sum(exp(logits))) written out."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    log_probs = logits - torch.log(torch.exp(logits).sum(dim=1, keepdim=True))
    return -log_probs[torch.arange(logits.shape[0]), targets].mean()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
