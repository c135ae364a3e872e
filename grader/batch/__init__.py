"""Grading a class (``grade batch``): entries, keys, resumable grading processes, the
gradebook and summary; locally (``pool``) or on Dask (``cluster``).  ``command`` runs it."""
from grader.batch.command import main  # noqa: F401
