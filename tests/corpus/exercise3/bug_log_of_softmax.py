# hint: looks like log\(softmax\(logits\)\)
"""Exercise 3: cross-entropy as -log of the softmax probability of the target."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    e = torch.exp(logits - logits.max(dim=1, keepdim=True).values)
    probs = e / e.sum(dim=1, keepdim=True)
    return -torch.log(probs[range(len(targets)), targets]).mean()


class CrossEntropyLoss(nn.Module):
    def forward(self, H, Y):
        return cross_entropy(H, Y)
