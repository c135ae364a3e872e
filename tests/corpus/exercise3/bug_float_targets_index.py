# hint: integer|long
"""Exercise 3: targets turned into floats before indexing.

Shape seen in public course code (label tensors cast with .float() in public notebooks); written fresh for this corpus."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    rows = torch.arange(logits.shape[0], device=logits.device).float()
    return -log_probs[rows, targets.float()].mean()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
