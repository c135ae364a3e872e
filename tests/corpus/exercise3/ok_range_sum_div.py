"""Exercise 3: correct: the picked log-probabilities summed, then divided by n.

Shape seen in public course code (cross-entropies written with range(n) in public homework code); written fresh for this corpus."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    n = logits.shape[0]
    log_probs = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    return -log_probs[torch.arange(n, device=logits.device), targets].sum() / n


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
