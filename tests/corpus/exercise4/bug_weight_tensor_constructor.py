# hint: uninitialised memory
"""Exercise 4: the legacy torch.Tensor(rows, cols) constructor, which only allocates."""
import torch
from torch import nn


class Linear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, init_factor=2.0):
        super(Linear, self).__init__()
        self.weight = nn.Parameter(torch.Tensor(in_dim, out_dim))
        if bias:
            self.bias = nn.Parameter(torch.Tensor(out_dim).zero_())
        else:
            self.bias = None

    def forward(self, X):
        y = torch.mm(X.reshape(-1, X.shape[-1]), self.weight).reshape(*X.shape[:-1], self.weight.shape[1])
        return y if self.bias is None else y + self.bias
