# hint: 2-D|exp\(\) overflowed
"""Exercise 1: softmax over dim=1 with keepdim, no max subtracted.

Shape seen in public course code (ChaosAIVision/VGG16-from-scratch-Pytorch); written fresh for this corpus."""
import torch


def softmax(x):
    numer = torch.exp(x)
    denom = numer.sum(dim=1, keepdim=True)
    return numer / denom
