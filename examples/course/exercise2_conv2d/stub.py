"""Exercise 2: the forward pass of a 2-d convolution layer.

Write `conv2d(x, weight, bias=None, stride=1, padding=0)`, as torch.nn.functional.conv2d
computes it (without calling it):

* x has shape (N, C_in, H, W): a batch of N images with C_in channels;
* weight has shape (C_out, C_in, kH, kW): one kernel per output channel;
* bias, when given, has shape (C_out,): one number added to each output channel;
* padding zeros are added on every side of each image first (padding rows above and below,
  padding columns left and right), then the kernel slides over the image stride pixels at a time.

out[n, o, i, j] = bias[o] + sum over c, p, q of x_padded[n, c, i*stride + p, j*stride + q] * weight[o, c, p, q]

That is a cross-correlation, as in every deep-learning library: the kernel is not flipped.
The output has shape (N, C_out, H_out, W_out), with H_out = (H + 2*padding - kH) // stride + 1
(and W_out alike), and x's dtype.  Tensor indexing, slicing, torch.nn.functional.pad, einsum,
matmul and unfold are allowed; conv2d, convolution and nn.Conv2d are what you are rebuilding.
"""
import torch


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias=None, stride: int = 1, padding: int = 0) -> torch.Tensor:
    raise NotImplementedError("write conv2d")
