"""The in-worker forbidden-call detector's parts that reach below Python.

Used by the forbidden-call watcher (``grader.untrusted.watcher``), in the student's process:

* ``block``: replaces torch's kernels of the exercise's forbidden aten ops
  (``torch.library.Library("aten", "IMPL")``, for the CPU, CUDA and meta
  backends, their autograd keys and the composite kernels of ops that have no
  backend kernel of their own) with one that reports the call and raises.  It
  runs before the student's file is loaded, so ``torch.ops.aten._softmax.default``,
  a call inside ``torch._C.DisableTorchFunction()`` or one from a patched
  detector fails all the same.  Only the exercise's forbidden ops are replaced:
  everything else (autograd of the student's own code included) runs as usual,
  and each worker holds one exercise of one student, so the grader's own calls
  in that worker never need them.
* ``runs_as``: whether a frame runs as the ``within`` function (exercise 8's
  ``backward``): a function of that name, or whatever function torch's autograd
  engine calls as a Function's backward (``MatMul.backward = staticmethod(_bw)``).

Nothing here decides a grade: ``grader.verdicts.forbidden`` does, in the grading process;
the integrity scan (``grader.verdicts.integrity``) covers what a process can undo in itself.
"""

from __future__ import annotations

import warnings

# the backends a kernel is replaced for; an op's autograd kernel calls down to them
BACKENDS = ("CPU", "CUDA", "Meta", "SparseCPU", "SparseCUDA", "NestedTensorCPU", "NestedTensorCUDA", "QuantizedCPU")
COMPOSITE = "CompositeImplicitAutograd"  # ops without kernels of their own: one kernel for every backend
# torch.autograd.function: what calls a Function's backward (directly, or through @once_differentiable)
ENGINE_CALLERS = ("BackwardCFunction.apply", "once_differentiable.<locals>.wrapper")


def block(ops, note, reason: str):
    """Make every overload of the aten ``ops`` (names that are not aten ops are
    ignored) raise, after ``note(shown)`` reports the call; returns the Library
    holding the registrations (keep it: they last as long as it does), its
    ``nngrade_registered`` the qualified names of the overloads replaced."""
    import torch

    lib = torch.library.Library("aten", "IMPL")
    registered: set = set()
    has = torch._C._dispatch_has_kernel_for_dispatch_key
    with warnings.catch_warnings():  # "overriding a previously registered kernel": that is the point
        warnings.simplefilter("ignore")
        for op in ops:
            try:
                overloads = getattr(torch.ops.aten, op).overloads()
            except (AttributeError, RuntimeError):
                continue
            for ov in overloads:
                qual = op if ov == "default" else f"{op}.{ov}"
                name = f"aten::{qual}"
                if has(name, COMPOSITE):  # torch refuses a meta kernel, say, beside a composite one
                    keys = [COMPOSITE, *(k for k in BACKENDS if has(name, k))]
                else:
                    keys = BACKENDS
                kernel = _kernel(name, note, reason)
                for key in keys:
                    try:
                        lib.impl(qual, kernel, key)
                        registered.add(name)
                    except Exception:  # a key this build of torch does not take for this op
                        pass
    lib.nngrade_registered = tuple(sorted(registered))  # what the watcher's tamper check compares
    return lib


def _kernel(shown: str, note, reason: str):
    message = f"{shown} is not allowed in this exercise" + (f": {reason}" if reason else "")

    def forbidden_kernel(*args, **kwargs):
        try:
            note(shown)
        except Exception:
            pass
        raise RuntimeError(message)

    return forbidden_kernel


def runs_as(frame, within: str) -> bool:
    """Whether ``frame`` runs as the function ``within`` (see the module's doc)."""
    if frame.f_code.co_name == within:
        return True
    if within != "backward":
        return False
    caller = frame.f_back
    return (
        caller is not None
        and getattr(caller.f_code, "co_qualname", "") in ENGINE_CALLERS
        and caller.f_code.co_filename.replace("\\", "/").endswith("torch/autograd/function.py")
    )
