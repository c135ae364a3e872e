# hint: Apply the affine parameters
"""A wrong answer: Never applies weight and bias."""

import torch


def layer_norm(x: torch.Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> torch.Tensor:
    dims = tuple(range(-len(normalized_shape), 0))
    mean = x.mean(dim=dims, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=dims, keepdim=True)  # biased: divided by N
    y = (x - mean) / torch.sqrt(var + eps)
    return y
