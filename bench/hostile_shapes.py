"""Hostile students that hold a grading slot, as edits of the model answers.

Each shape wraps every public top-level function and every ``forward``/``step``
method of the model answer, so that each call into the student's code first does
the attack, then returns the right result (or, for ``amplified``, a huge wrong one):

  drip       sleeps just under the call limit (a reply slowed on purpose: no CPU, all wall time)
  hog        spins just under the call limit, pinned to one core (CPU time)
  amplified  returns a tensor just under the reply size limit (the grader decodes each)

Used by bench/batch_throughput.py --hostile and tests/batch/test_hostile_budget.py.
"""

from __future__ import annotations

import re

SHAPES = ("drip", "hog", "amplified")

_HEADER = """
import os as _os, time as _time
import torch as _torch


def _attack(f):
    def run(*args, **kwargs):
        {body}
    return run

"""

_BODIES = {
    "drip": "_time.sleep({call:.3f} * 0.95)\n        return f(*args, **kwargs)",
    "hog": (
        "try:\n            _os.sched_setaffinity(0, {{min(_os.sched_getaffinity(0))}})\n"
        "        except OSError:\n            pass\n"
        "        end = _time.monotonic() + {call:.3f} * 0.95\n"
        "        while _time.monotonic() < end:\n            pass\n"
        "        return f(*args, **kwargs)"
    ),
    "amplified": "f(*args, **kwargs)\n        return _torch.zeros(({reply} - (1 << 20)) // 4)",
}


def hostile_source(solution: str, shape: str, call_timeout: float = 10.0, reply_bytes: int = 64 << 20) -> str:
    """The model answer ``solution`` turned into the hostile ``shape`` (see SHAPES)."""
    body = _BODIES[shape].format(call=call_timeout, reply=reply_bytes)
    src = re.sub(r"^def (?!_)", "@_attack\ndef ", solution, flags=re.M)
    src = re.sub(r"^(    )def (forward|step)\(", r"\1@_attack\n\1def \2(", src, flags=re.M)
    # after the module docstring and its __future__ imports, which must come first
    lines = src.splitlines(keepends=True)
    at = max((i + 1 for i, line in enumerate(lines) if line.startswith("from __future__")), default=0)
    return "".join(lines[:at]) + _HEADER.format(body=body) + "".join(lines[at:])
