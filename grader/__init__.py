"""nngrade: an autograder for a hands-on PyTorch course."""
__version__ = "0.1.0"
