"""Exercise 2: the forward pass of a 2-d convolution layer (the model answer)."""
import torch
import torch.nn.functional as F


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias=None, stride: int = 1, padding: int = 0) -> torch.Tensor:
    if padding:
        x = F.pad(x, (padding, padding, padding, padding))
    n, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    h_out, w_out = (h - kh) // stride + 1, (w - kw) // stride + 1
    out = x.new_zeros(n, c_out, h_out, w_out)
    for p in range(kh):
        for q in range(kw):
            patch = x[:, :, p:p + stride * (h_out - 1) + 1:stride, q:q + stride * (w_out - 1) + 1:stride]
            out = out + torch.einsum("nchw,oc->nohw", patch, weight[:, :, p, q])
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out
