# hint: incoming gradient is ignored
"""Exercise 8: MatMul -- backward ignores the incoming gradient (as if dL/dZ were all ones)."""
import torch


class MatMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, Y):
        ctx.save_for_backward(X, Y)
        return X @ Y

    @staticmethod
    def backward(ctx, grad):
        X, Y = ctx.saved_tensors
        ones = torch.ones(X.shape[0], Y.shape[1], dtype=X.dtype, device=X.device)
        return ones @ Y.T, X.T @ ones
