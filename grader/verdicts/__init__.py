"""Verdicts: comparisons and tolerances, diagnosis, the forbidden-call and integrity rules."""
