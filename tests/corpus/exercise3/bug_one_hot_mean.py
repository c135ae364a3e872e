# hint: averaged over all n·k
"""Exercise 3: cross-entropy through a one-hot mask, averaged with .mean()."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    one_hot = torch.zeros_like(log_probs)
    one_hot[torch.arange(len(targets)), targets] = 1.0
    return -(one_hot * log_probs).mean()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
