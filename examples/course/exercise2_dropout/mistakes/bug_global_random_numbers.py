# hint: Draw the mask from the generator given
"""A wrong answer: Draws the mask from torch's global random numbers, not from the generator given."""

import torch


def dropout(x: torch.Tensor, p: float = 0.5, training: bool = True, generator=None) -> torch.Tensor:
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape, device=x.device) >= p
    return x * keep / (1 - p)
