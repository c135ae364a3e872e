"""The reference for exercise 1 (layer normalisation): written apart from the model answer
(float64 inside, var_mean and rsqrt), rounded once to the input's dtype."""

import torch


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    dims = tuple(range(x.dim() - len(normalized_shape), x.dim()))
    x64 = x.double()
    var, mean = torch.var_mean(x64, dim=dims, keepdim=True, correction=0)
    y = (x64 - mean) * torch.rsqrt(var + eps)
    if weight is not None:
        y = y * weight.double()
    if bias is not None:
        y = y + bias.double()
    return y.to(x.dtype)
