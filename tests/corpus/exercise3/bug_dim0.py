# hint: normalise over dim=0 \(the batch\)
"""Exercise 3: cross-entropy normalised over the first dimension."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    z = logits - logits.max(dim=0, keepdim=True).values
    log_probs = z - torch.logsumexp(z, dim=0, keepdim=True)
    return -log_probs[torch.arange(logits.shape[0]), targets].mean()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
