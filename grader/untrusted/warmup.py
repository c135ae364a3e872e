"""What a zygote runs once, so that each worker forked from it need not.

* **torch._dynamo in every worker.**  The first operation on a ``meta`` tensor (the
  device test of exercises 1-5) runs one of torch's Python decompositions, each
  wrapped by ``torch._compile._disable_dynamo``, which imports ``torch._dynamo``
  (and sympy, ~900 modules, 1-2 CPU-s) only to mark the decomposition "not to be
  compiled".  ``defer_dynamo`` gives those wrappers a cheap stand-in that calls the
  decomposition directly while nobody has imported ``torch._dynamo``, and the real
  ``torch._dynamo.disable`` as soon as anything has (a student's ``torch.compile``):
  what is computed is the same either way.
* **The meta decompositions.**  ``warm_meta`` runs the meta-device operations of the
  device tests once (``uses_meta``: whether the exercises graded have any).
"""

from __future__ import annotations

import sys


def defer_dynamo() -> int:
    """Give torch's ``_disable_dynamo`` wrappers their stand-in (see the module's
    docstring); returns how many were given one (0 where torch's code differs)."""
    import gc
    import inspect

    try:
        import torch._compile as compile_mod

        inner = next(
            c for c in compile_mod._disable_dynamo.__code__.co_consts if inspect.iscode(c) and c.co_name == "inner"
        )
    except (ImportError, AttributeError, StopIteration):
        return 0
    if "fn" not in inner.co_freevars or "recursive" not in inner.co_freevars:
        return 0
    done = 0
    for f in gc.get_referrers(inner):
        if not inspect.isfunction(f) or f.__code__ is not inner or not f.__closure__:
            continue
        cells = dict(zip(f.__code__.co_freevars, f.__closure__))
        try:
            fn, recursive = cells["fn"].cell_contents, cells["recursive"].cell_contents
        except ValueError:  # an empty cell
            continue
        if getattr(fn, "__dynamo_disable", None) is None:
            try:
                fn.__dynamo_disable = _stand_in(fn, recursive)
            except (AttributeError, TypeError):
                continue
            done += 1
    return done


def _stand_in(fn, recursive):
    def call(*args, **kwargs):
        dynamo = sys.modules.get("torch._dynamo")
        if dynamo is None:
            return fn(*args, **kwargs)
        disabled = dynamo.disable(fn, recursive, wrapping=False)  # from now on, what torch would use
        fn.__dynamo_disable = disabled
        return disabled(*args, **kwargs)

    return call


def uses_meta(exercises) -> bool:
    """Whether the suites of these exercises run student code on the meta device: as
    ``grader.exercises`` declares it, never by reading a suite (its text would stay in this
    process's memory, and so in every worker forked from a zygote forked here)."""
    return any(getattr(ex, "meta", False) for ex in exercises)


def warm_meta() -> None:
    """Run, once, the meta-device operations that the device tests make a worker run:
    their first run imports sympy and builds torch's decompositions (about a second),
    which every worker forked after this shares instead of repeating."""
    import torch
    import torch.nn.functional as F

    x = torch.zeros(3, 4, device="meta")
    t = torch.zeros(3, dtype=torch.long, device="meta")
    for op in (
        lambda: torch.softmax(x, -1),
        lambda: torch.log_softmax(x, -1),
        lambda: x.max(dim=-1),
        lambda: x.amax(-1, keepdim=True),
        lambda: torch.logsumexp(x, -1),
        lambda: (x - x).exp().sum(-1),
        lambda: x / x.sum(-1, keepdim=True),
        lambda: x.log(),
        lambda: F.cross_entropy(x, t),
        lambda: x[torch.arange(3, device="meta"), t].mean(),
        lambda: x.gather(1, t[:, None]),
        lambda: torch.relu(x),
        lambda: x.clamp(min=0),
        lambda: torch.where(x > 0, x, torch.zeros_like(x)),
        lambda: x * (x > 0),
        lambda: torch.maximum(x, torch.zeros_like(x)),
        lambda: x @ torch.zeros(4, 2, device="meta"),
        lambda: F.linear(x, torch.zeros(2, 4, device="meta"), torch.zeros(2, device="meta")),
    ):
        try:
            op()
        except Exception:
            pass
