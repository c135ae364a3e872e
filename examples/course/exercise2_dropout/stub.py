"""Exercise 2: dropout.

Write `dropout(x, p=0.5, training=True, generator=None)`, as torch.nn.functional.dropout
computes it (without calling it):

* in training mode, drop each element of x with probability p, independently (it becomes 0),
  and keep it with probability 1 - p; scale the kept elements by 1 / (1 - p), so that the
  expected value of the result is x:  y = x * keep / (1 - p);
* draw the random mask from `generator` (a torch.Generator) when one is given, e.g.
  torch.rand(x.shape, generator=generator) >= p, so that the same generator seed gives the
  same mask; with generator=None, from torch's global random numbers;
* p = 0 keeps every element (y equals x); p = 1 drops them all (y is zeros, not nan);
* when training is False, nothing is dropped and nothing scaled: return x as it is.

The result has x's shape and dtype, and gradients flow through it to x.  Use torch's tensor
operations (rand, comparisons, arithmetic); torch.nn.functional.dropout, torch.dropout and
nn.Dropout are what you are rebuilding.
"""

import torch


def dropout(x: torch.Tensor, p: float = 0.5, training: bool = True, generator=None) -> torch.Tensor:
    raise NotImplementedError("write dropout")
