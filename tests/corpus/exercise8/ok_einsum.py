"""Exercise 8: MatMul written with einsum."""
import torch


class MatMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, Y):
        ctx.save_for_backward(X, Y)
        return torch.einsum("ik,km->im", X, Y)

    @staticmethod
    def backward(ctx, grad):
        X, Y = ctx.saved_tensors
        return torch.einsum("im,km->ik", grad, Y), torch.einsum("ik,im->km", X, grad)
