# hint: all n·k entries
"""Exercise 3: one-hot loss divided by n * k.

Shape seen in public course code (one-hot cross-entropies in public course code); written fresh for this corpus."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    one_hot = torch.zeros_like(log_probs)
    one_hot[torch.arange(logits.shape[0]), targets] = 1.0
    return -(one_hot * log_probs).sum() / (logits.size(-1) * logits.size(-2))


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
