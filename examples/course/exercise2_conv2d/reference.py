"""The reference for exercise 2 (Conv2d forward): torch's own conv2d, computed in float64 and
rounded once to the input's dtype (the reference runs on the grader's side only)."""
import torch.nn.functional as F


def conv2d(x, weight, bias=None, stride=1, padding=0):
    out = F.conv2d(x.double(), weight.double(), None if bias is None else bias.double(), stride=stride,
                   padding=padding)
    return out.to(x.dtype)
