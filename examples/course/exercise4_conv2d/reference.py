"""The reference for exercise 4 (conv2d): torch's own convolution, in float64, rounded once to the
input's dtype (the grader may call it: only the student's code is forbidden it)."""

import torch


def conv2d(x, weight, bias=None, stride=1, padding=0):
    out = torch.nn.functional.conv2d(
        x.double(), weight.double(), None if bias is None else bias.double(), stride=stride, padding=padding
    )
    return out.to(x.dtype)
