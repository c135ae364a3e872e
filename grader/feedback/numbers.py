"""How points are written: one rule for every report and every platform format.

Points are whole hundredths (``grader.harness.points.split``), so a test's points,
an exercise's score and a total are exact with two decimals.  ``points_text``
writes a number of points with two decimals, rounding half up (0.625 → "0.63",
never to even), read from the number's shortest decimal form (``repr``), so the
binary approximation of a float never decides the rounding.  Only a number that
is not a sum of points (a mean over a class, say) can need rounding at all.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_CENT = Decimal("0.01")


def points_text(value) -> str:
    """``value`` with two decimals, half up: ``points_text(0.625) == "0.63"``, ``points_text(10) == "10.00"``."""
    d = Decimal(repr(float(value))).quantize(_CENT, rounding=ROUND_HALF_UP)
    return str(d + 0)  # + 0: "-0.00" → "0.00"
