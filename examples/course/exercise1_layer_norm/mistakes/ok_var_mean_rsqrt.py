"""A correct answer written another way: torch.var_mean and rsqrt, over negative dims."""

import torch


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    dims = [-k for k in range(1, len(normalized_shape) + 1)]
    var, mean = torch.var_mean(x, dim=dims, keepdim=True, unbiased=False)
    y = (x - mean) * torch.rsqrt(var + eps)
    if weight is not None:
        y = weight * y
    return y if bias is None else y + bias
