# hint: sum|mean
"""Exercise 3: a stable gather cross-entropy that sums instead of averaging.

Shape seen in public course code (gather-based cross-entropies in public homework code); written fresh for this corpus."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    return -log_probs.gather(-1, targets[:, None]).sum()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
