"""``BadEntry``: a submission that cannot be read as a whole (a leaf of ``grader.submission``:
the reader and the notebook reader both raise it)."""


class BadEntry(Exception):
    """The submission as a whole cannot be read; the message says why."""
