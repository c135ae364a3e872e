"""The wire between the grader and a student's worker, both sides of it: the frames and records
(``message``), values to messages and back (``codec``), the caps on strings from the worker
(``sizes``).  A worker is built from this package, ``grader.untrusted`` and ``grader.errors``
only (``grader.untrusted.boundary``; the contracts in pyproject.toml's ``[tool.importlinter]``)."""
