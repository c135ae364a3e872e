"""Exercise 3: cross-entropy picking each row's target with gather."""
import torch
from torch import nn


def cross_entropy(logits, targets):
    m = logits.amax(dim=1, keepdim=True)
    log_probs = logits - m - torch.log(torch.exp(logits - m).sum(dim=1, keepdim=True))
    picked = torch.gather(log_probs, 1, targets.unsqueeze(1)).squeeze(1)
    return -picked.mean()


class CrossEntropyLoss(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, H, Y):
        return cross_entropy(H, Y)
