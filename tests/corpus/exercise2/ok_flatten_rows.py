"""Exercise 2: log-softmax on the input flattened to rows, then reshaped back."""
import torch


def log_softmax(x):
    rows = x.reshape(-1, x.shape[-1])
    m = rows.max(dim=1, keepdim=True)[0]
    out = rows - m - torch.log(torch.exp(rows - m).sum(dim=1, keepdim=True))
    return out.reshape(x.shape)
