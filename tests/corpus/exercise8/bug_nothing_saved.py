# hint: save
"""Exercise 8: backward reads saved tensors that forward never saved.

Shape seen in public course code (custom autograd Functions in public course code); written fresh for this corpus."""
import torch


class MatMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, Y):
        return X @ Y

    @staticmethod
    def backward(ctx, grad):
        X, Y = ctx.saved_tensors
        return grad @ Y.T, X.T @ grad
