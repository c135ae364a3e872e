"""Grading a class: entries, resumable grading processes, the gradebook and summary; locally or on Dask."""
from grader.batch.core import *  # noqa: F401,F403
from grader.batch.core import main  # noqa: F401
