# hint: assert
"""Exercise 1: a correct softmax behind an assertion that the input is 1-D or 2-D.

Shape seen in public course code (input-checking asserts common in course notebooks (e.g. d2l-style exercises)); written fresh for this corpus."""
import torch


def softmax(x):
    assert 0 < x.ndim < 3, "expected a vector or a batch of vectors"
    z = x - x.max(dim=-1, keepdim=True).values
    e = z.exp()
    return e / e.sum(dim=-1, keepdim=True)
