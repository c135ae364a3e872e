"""Reference matrix product with a hand-written backward (exercise 8)."""

import torch

__all__ = ["MatMul"]


class MatMul(torch.autograd.Function):
    """``Z = X @ Y`` for matrices X (n, k) and Y (k, m).

    backward: ``dX = grad @ Y^T`` (n, m)(m, k) and ``dY = X^T @ grad``
    (k, n)(n, m); a gradient is computed only when that input needs one.
    """

    @staticmethod
    def forward(ctx, X, Y):
        ctx.save_for_backward(X, Y)
        return torch.mm(X, Y)

    @staticmethod
    def backward(ctx, grad):
        X, Y = ctx.saved_tensors
        dX = torch.mm(grad, Y.t()) if ctx.needs_input_grad[0] else None
        dY = torch.mm(X.t(), grad) if ctx.needs_input_grad[1] else None
        return dX, dY
