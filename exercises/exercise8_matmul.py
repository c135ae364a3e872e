"""Exercise 8: matrix multiplication as an autograd Function.  Replace the ``raise`` lines."""
import torch


class MatMul(torch.autograd.Function):
    """``Z = X @ Y`` with a hand-written backward pass.

    Shapes: X is (n, k), Y is (k, m), Z is (n, m).  Use it as
    ``Z = MatMul.apply(X, Y)`` (never call forward directly).

    forward(ctx, X, Y): save what backward needs with
    ``ctx.save_for_backward(X, Y)`` and return X @ Y.

    backward(ctx, grad): ``grad`` is dL/dZ, shape (n, m).  Recover X and Y
    with ``X, Y = ctx.saved_tensors`` and return one gradient per input of
    forward, in the same order:

        dL/dX = grad @ Y^T    shape (n, m) @ (m, k) = (n, k)   same as X
        dL/dY = X^T @ grad    shape (k, n) @ (n, m) = (k, m)   same as Y

    Traps:
      * The transposes matter: check every gradient has the shape of its
        input.  Square test matrices hide a wrong transpose; non-square ones
        don't (the grader uses shapes like 3x4 @ 4x5).
      * The order of the returned tuple is (dX, dY).
      * Both methods are @staticmethod and take ``ctx`` first.
      * Optionally return None for an input whose
        ``ctx.needs_input_grad[i]`` is False.

    Forbidden in backward: autograd itself (torch.autograd.grad, .backward(),
    torch.func, or the engine they call, Variable._execution_engine.run_backward),
    and recomputing X @ Y with gradient tracking.
    Allowed: @ / torch.matmul / torch.mm, .T / .t() / .transpose().
    """

    @staticmethod
    def forward(ctx, X, Y):
        raise NotImplementedError("MatMul.forward(ctx, X, Y) is not written yet: see the class docstring")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("MatMul.backward(ctx, grad) is not written yet: see the class docstring")
