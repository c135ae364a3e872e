# hint: Scale first, then shift
"""A wrong answer: Adds the bias before scaling by the weight."""

import torch


def layer_norm(x: torch.Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> torch.Tensor:
    dims = tuple(range(-len(normalized_shape), 0))
    mean = x.mean(dim=dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)  # biased: divided by N
    y = (x - mean) / torch.sqrt(var + eps)
    if bias is not None:
        y = y + bias
    if weight is not None:
        y = y * weight
    return y
