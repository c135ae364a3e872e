# hint: sum.*also:.*log
"""Exercise 3: gather of log(softmax) summed over the batch: two mistakes.

Shape seen in public course code (gather-based cross-entropies in public homework code); written fresh for this corpus."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    probs = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    picked = torch.log(probs).gather(1, targets.unsqueeze(1))
    return -picked.sum()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
