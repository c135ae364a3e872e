"""Grading a class (``grade batch``): entries, keys, resumable grading processes, the
gradebook and summary; locally (``pool``) or on Dask (``cluster``).  ``command`` runs it."""


def __getattr__(name):  # ``main`` imported when asked for: a grading process imports only what it runs
    if name == "main":
        from grader.batch.command import main

        return main
    raise AttributeError(f"module 'grader.batch' has no attribute {name!r}")
