# hint: returned None for an input that needs a gradient
"""Exercise 8: MatMul -- backward gives no gradient for Y."""
import torch


class MatMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, Y):
        ctx.save_for_backward(X, Y)
        return X @ Y

    @staticmethod
    def backward(ctx, grad):
        X, Y = ctx.saved_tensors
        return grad @ Y.T, None
