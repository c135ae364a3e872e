# hint: whole tensor
"""Exercise 1: a row-blind normaliser: one sum over every entry.

Shape seen in public course code (a course 'layers/softmax.py' module seen in the search results); written fresh for this corpus."""
import torch


def softmax(x):
    shifted = x - x.max()
    ex = torch.exp(shifted)
    return ex / torch.sum(ex)
