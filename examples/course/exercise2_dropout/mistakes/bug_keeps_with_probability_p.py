# hint: Keep each element with probability 1 - p
"""A wrong answer: Keeps each element with probability p (rand < p) instead of 1 - p."""

import torch


def dropout(x: torch.Tensor, p: float = 0.5, training: bool = True, generator=None) -> torch.Tensor:
    if not training or p == 0:
        return x
    if p == 1:
        return torch.zeros_like(x)
    keep = torch.rand(x.shape, generator=generator, device=x.device) < p
    return x * keep / (1 - p)
