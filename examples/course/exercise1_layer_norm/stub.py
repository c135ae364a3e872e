"""Exercise 1: layer normalisation.

Write `layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5)`, as
torch.nn.functional.layer_norm computes it (without calling it):

* normalise x over its last len(normalized_shape) dimensions (those dimensions have the
  sizes normalized_shape gives): subtract their mean and divide by sqrt(var + eps), where
  var is the *biased* variance (the mean of the squared deviations, divided by N, not N - 1)
  and eps sits inside the square root;
* then, when given, multiply by `weight` and add `bias` (both of shape normalized_shape),
  elementwise: y = x_hat * weight + bias.

The result has x's shape and dtype.  Use torch's tensor operations (mean, pow, sqrt, ...);
torch.nn.functional.layer_norm, torch.layer_norm and nn.LayerNorm are what you are rebuilding.
"""

import torch


def layer_norm(x: torch.Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> torch.Tensor:
    raise NotImplementedError("write layer_norm")
