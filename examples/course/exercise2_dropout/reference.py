"""The reference for exercise 2 (dropout).  A mask is random, so the hidden suite checks what every
right answer shares: given which elements a result kept, what it must be; how many elements
dropout keeps; the mask drawn from the generator given."""

import math

import torch


def dropped(x, keep, p):
    """What dropout with drop probability ``p`` gives when it keeps the elements ``keep`` (float64)."""
    x64 = x.double()
    return torch.where(keep, x64 / (1.0 - p), torch.zeros_like(x64))


def kept_fraction_range(n, p, sigmas=5.0):
    """The fraction of ``n`` elements that dropout keeps, within ``sigmas`` standard deviations
    of its expected value 1 - p: (low, high)."""
    spread = sigmas * math.sqrt(p * (1.0 - p) / n) + 1.0 / n
    return (1.0 - p) - spread, (1.0 - p) + spread
