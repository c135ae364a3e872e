# hint: new tensor on the CPU whatever the input.s device
import torch
def softmax(x):
    z = x - x.max(dim=-1, keepdim=True).values
    e = torch.exp(z)
    out = torch.empty(x.shape, dtype=x.dtype)
    out[...] = e / e.sum(dim=-1, keepdim=True)
    return out
