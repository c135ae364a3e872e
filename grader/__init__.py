"""nngrade: an autograder for a hands-on PyTorch course."""
__version__ = "0.1.0"


def load_ipython_extension(ipython):
    """``%load_ext grader`` in Jupyter, Colab or IPython: ``%%exercise N`` and ``%grade N``."""
    from grader.submission.notebook import load_ipython_extension as load

    load(ipython)
