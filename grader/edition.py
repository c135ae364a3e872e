"""Which edition of the grader this is.  The instructor's (full) edition holds the
hidden suites; ``grade release`` writes the student edition's own copy of this
file, where ``EDITION = "student"`` and ``annotate`` says which checks ran."""

EDITION = "full"


def annotate(report: dict) -> dict:
    return report
