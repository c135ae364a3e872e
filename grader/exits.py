"""The exit codes of ``grade`` and how it says a usage error (standard library only: ``grader.cli``
imports it at start-up, and the commands below it use the same codes and words)."""

from __future__ import annotations

import sys

EXIT_FULL, EXIT_LOST, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def fail(message: str) -> int:
    """Say a usage error on stderr; the exit code for it."""
    print(f"grade: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def no_torch() -> int:
    return fail(f"PyTorch is not installed in this Python ({sys.executable}): pip install torch")
