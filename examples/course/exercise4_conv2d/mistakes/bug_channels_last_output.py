# hint: Return the output channels first
"""A wrong answer: Builds the output channels last, (N, H_out, W_out, C_out)."""

import torch
import torch.nn.functional as F


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias=None, stride=1, padding=0) -> torch.Tensor:
    (sh, sw), (ph, pw) = _pair(stride), _pair(padding)
    x = F.pad(x, (pw, pw, ph, ph))
    kh, kw = weight.shape[2:]
    h_out = (x.shape[2] - kh) // sh + 1
    w_out = (x.shape[3] - kw) // sw + 1
    out = x.new_zeros((x.shape[0], h_out, w_out, weight.shape[0]))
    for a in range(kh):  # each kernel position: the pixels it meets, times its weights, summed over channels
        for b in range(kw):
            patch = x[:, :, a : a + sh * (h_out - 1) + 1 : sh, b : b + sw * (w_out - 1) + 1 : sw]
            out = out + torch.einsum("nchw,oc->nhwo", patch, weight[:, :, a, b])
    if bias is not None:
        out = out + bias
    return out
