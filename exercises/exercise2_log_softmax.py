"""Exercise 2: log-softmax.  Replace the ``raise`` below with your code."""
import torch


def log_softmax(x):
    """Log of the softmax over the LAST dimension of ``x``, computed stably.

    For each slice v along the last dimension, with m = max_j v_j:

        log_softmax(v)_i = v_i - log sum_j exp(v_j)
                         = (v_i - m) - log sum_j exp(v_j - m)

    Every exp() is now at most 1 and the sum is at least 1 (the max term
    contributes exp(0) = 1), so the log is always finite.

    Shapes: any number of leading dimensions, e.g. (k,), (n, k), (b, n, k);
    return a tensor of the SAME shape, dtype and device.  Every entry is <= 0.

    Traps:
      * ``torch.log(softmax(x))`` is NOT good enough: for a row like
        [0., -1000.] the small probability exp(-1000) underflows to 0 and
        log(0) = -inf.  The correct answer is [0., -1000.] (to float accuracy).
      * Without subtracting m, exp(1000.) overflows to inf.
      * Reduce over ``dim=-1`` with ``keepdim=True`` so the result broadcasts
        back against ``x``; ``x.max(...)`` returns (values, indices).
      * Don't modify ``x`` in place and don't hard-code a batch size.

    Forbidden: torch.log_softmax, torch.nn.functional.log_softmax,
    nn.LogSoftmax, and softmax in any spelling; also every built-in that
    computes log-softmax by another road: torch.logsumexp, torch.logcumsumexp
    (x - logcumsumexp(x)[..., -1:] is a log-softmax) and
    torch.distributions.Categorical (its .logits are normalised).
    Allowed: torch.exp, torch.log, torch.max / amax, Tensor.sum, arithmetic.
    torch.logsumexp would do the whole job in one call: the point of this
    exercise is to write the max shift yourself, so please don't use it here.

    Example: log_softmax(torch.tensor([0., -1000.])) -> tensor([0., -1000.])
    """
    raise NotImplementedError("log_softmax(x) is not written yet: see its docstring")
