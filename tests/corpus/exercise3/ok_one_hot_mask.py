"""Exercise 3: cross-entropy through a boolean one-hot mask, summed over the classes."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    n, k = logits.shape
    classes = torch.arange(k, device=logits.device)
    mask = targets.unsqueeze(1) == classes.unsqueeze(0)
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -(log_probs * mask).sum(dim=1).mean()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
