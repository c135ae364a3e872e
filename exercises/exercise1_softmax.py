"""Exercise 1: softmax.  Replace the ``raise`` below with your code."""
import torch


def softmax(x):
    """Softmax over the LAST dimension of ``x``.

    For each slice v = x[..., :] along the last dimension:

        softmax(v)_i = exp(v_i - m) / sum_j exp(v_j - m),   m = max_j v_j

    Subtracting m does not change the result (it cancels between the top and
    the bottom) but it keeps every exp() at most 1.

    Shapes: ``x`` may be 1-D (k,), 2-D (n, k), 3-D (b, n, k), ...; return a
    tensor of the SAME shape, dtype and device, where every slice along the
    last dimension is non-negative and sums to 1.

    Traps:
      * Without the max subtraction, exp(1000.) overflows to inf and you get
        inf / inf = nan.
      * Reduce over ``dim=-1`` (not dim=1, not the whole tensor) and keep the
        reduced dimension (``keepdim=True``) so that it broadcasts back;
        ``x.max(dim=-1, keepdim=True)`` returns (values, indices): use ``.values``.
      * Don't hard-code a batch size or a number of dimensions.
      * Don't modify ``x`` in place (no ``x -= ...``, no ``x.exp_()``): the
        caller still owns it.
      * Don't create tensors with a fixed dtype/device; if you need one, take
        them from ``x``.

    Forbidden: torch.softmax, torch.nn.functional.softmax, nn.Softmax,
    log_softmax in any spelling, and anything that computes softmax for you.
    Allowed: torch.exp, torch.max / Tensor.max / amax, Tensor.sum, ordinary
    arithmetic and broadcasting.

    Example: softmax(torch.tensor([0., 0.])) -> tensor([0.5000, 0.5000])
    """
    raise NotImplementedError("softmax(x) is not written yet: see its docstring")
