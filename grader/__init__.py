"""nngrade: an autograder for a hands-on PyTorch course."""

__version__ = "0.1.0"

import os as _os

# torch asks NVML, not CUDA, whether a GPU exists: asking CUDA would start it in the grader,
# and a CUDA started before a fork cannot be used by the forked workers
_os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")


def load_ipython_extension(ipython):
    """``%load_ext grader`` in Jupyter, Colab or IPython: ``%%exercise N`` and ``%grade N``."""
    from grader.commands.magic import load_ipython_extension as load

    load(ipython)
