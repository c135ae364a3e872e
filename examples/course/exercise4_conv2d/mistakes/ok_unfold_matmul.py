"""A correct answer written another way: torch.nn.functional.unfold (im2col) and a matrix product."""

import torch.nn.functional as F


def conv2d(x, weight, bias=None, stride=1, padding=0):
    (sh, sw), (ph, pw) = [(v, v) if isinstance(v, int) else tuple(v) for v in (stride, padding)]
    n, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    h_out, w_out = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    cols = F.unfold(x, (kh, kw), padding=(ph, pw), stride=(sh, sw))  # (N, C_in*kH*kW, L)
    out = (weight.reshape(c_out, -1) @ cols).reshape(n, c_out, h_out, w_out)
    return out if bias is None else out + bias.reshape(1, -1, 1, 1)
