"""Exercise 4: a 2-d convolution layer's forward pass.

Write `conv2d(x, weight, bias=None, stride=1, padding=0)`, as torch.nn.functional.conv2d
computes it (without calling it):

* x has shape (N, C_in, H, W) (a batch of images, channels first), weight (C_out, C_in, kH, kW),
  bias (C_out,) or None;
* stride and padding are each an int (the same for height and width) or a pair (height, width);
  padding adds that many zeros on both sides of each image's height (and width);
* the result has shape (N, C_out, H_out, W_out), H_out = (H + 2 * padding - kH) // stride + 1
  (W_out likewise), and

      out[n, o, i, j] = bias[o] + sum over c, a, b of
                        x_padded[n, c, i * stride + a, j * stride + b] * weight[o, c, a, b]

  a cross-correlation, as deep-learning libraries compute it: the kernel is NOT flipped;
  the bias, when given, is added once per output channel.

The result has x's dtype, and gradients flow through it to x, weight and bias.  Use torch's
tensor operations (slicing, einsum or matmul, sum, unfold, torch.nn.functional.pad, ...);
torch.nn.functional.conv2d, torch.conv2d and nn.Conv2d are what you are rebuilding.
"""

import torch


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias=None, stride=1, padding=0) -> torch.Tensor:
    raise NotImplementedError("write conv2d")
