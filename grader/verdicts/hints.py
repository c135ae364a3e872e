"""Hint wording that more than one suite gives, in one place.

A hint that one suite alone gives lives in that suite, beside the test that gives it.
"""

from __future__ import annotations

from grader.hint_levels import current_level

# how a hint that names several catalogued mistakes at once begins (grader.verdicts.diagnosis.join)
JOINED = "More than one bug gives exactly this result: "

ONLY_2D = (
    "Your code is right for a 2-D input (n, k) only, but the input may have any number of dimensions: "
    "(k,), (n, k), (b, n, k). Reduce over dim=-1 with keepdim=True instead of dim=1, and don't unpack "
    "`n, k = x.shape` or loop over the rows."
)

NO_KEEPDIM = (
    "The row max or sum lost its dimension, so it broadcast against the wrong axis: reduce with "
    "keepdim=True (x.max(dim=-1, keepdim=True).values, .sum(dim=-1, keepdim=True)) or unsqueeze(-1)."
)


def wrong_dim_hint(d: int, name: str) -> str:
    """``name`` (softmax, log-softmax) reduced over dim=d of an input with more dimensions than d + 1."""
    if d == 1:  # not the last dimension: the input has 3 or more
        return ONLY_2D
    return (
        f"You normalise over dim={d}, but {name} works over the LAST dimension whatever the number of "
        "dimensions: reduce with dim=-1 (keepdim=True)."
    )


def hard_coded_hint(b) -> str:
    return (
        f"The batch size {b} seems hard-coded (as in view({b}, 1) or torch.arange({b})): take sizes from the "
        "input (x.shape[0], or -1 in view) or reduce with keepdim=True, so that any batch size works."
    )


DEVICE_VALUES_FIRST = (
    "This test checks that the result follows the input's device once its values are right on "
    "the CPU: fix the wrong values that the other tests report first."
)
FORWARD_FIRST = (
    "This test checks the gradient of your forward, so it earns its points only once the forward "
    "is right (a gradient that matches a wrong function proves nothing): fix the values that the "
    "other tests report first."
)
# hints that send the student to another test's failure: not misconceptions of their own (class summary)
FOLLOW_UPS = (DEVICE_VALUES_FIRST, FORWARD_FIRST)


def unexplained_hint(status: str, kind, message: str) -> str:
    """The hint of a failure that no check, catalogue or error table explained: what was observed and
    where to look, never an empty line (a report never leaves a lost point without a word)."""
    if kind == "internal":
        return (
            "The grader itself failed on this test, not your code: the other tests' verdicts stand; "
            "tell your instructor, quoting this report."
        )
    first = (message or "").strip().splitlines()[0] if (message or "").strip() else "this test failed"
    if status == "error":
        return f"Your code could not be run to the end here ({first}): fix that first, then grade again."
    return (
        f"No catalogued mistake reproduces this result ({first}): go through your code with the input "
        "shown above (its shape, dtype and values) against the exercise's docstring, step by step."
    )


# -- hint levels: the concept only, or the concept and the fix ------------------------------------
#
# An instructor chooses per course (GRADER_HINT_LEVEL, or --hint-level on grade, grade batch, grade
# autograder and grade release) whether a hint names the concept only ("concept") or also shows the fix
# ("fix", the default): which level, grader.hint_levels.  Every catalogued mistake carries both: its
# ``concept`` (written out, or derived: the hint up to its first ": " or sentence end) and its ``hint``
# (the fix).

_CONCEPTS: dict = {}  # a catalogued hint (the fix) -> its concept-only wording


def concept_of(hint: str) -> str:
    """The concept-only wording of a hint: its first clause, up to the first ': ' or the end of the first
    sentence (the rest, in catalogued hints, is the fix), as one sentence."""
    import re

    text = (hint or "").strip()
    if not text:
        return text
    m = re.search(r":\s|(?<!e\.g)(?<!i\.e)\.\s+(?=[A-Z(`])|;\s", text)
    head = text[: m.start()] if m else text
    head = head.strip().rstrip(".;:")
    return head + "." if head else text


def register_concept(hint: str, concept: str | None) -> None:
    if hint:
        _CONCEPTS.setdefault(hint, concept or concept_of(hint))


def at_level(hint: str, level: str | None = None) -> str:
    """``hint`` as the hint level asks: unchanged at "fix"; at "concept", each catalogued hint it holds
    replaced by its concept (a joined hint keeps its numbering), any other reduced to its concept_of."""
    level = level or current_level()
    if level == "fix" or not (hint or "").strip():
        return hint
    if hint in _CONCEPTS:
        return _CONCEPTS[hint]
    out, replaced = hint, False
    for fix in sorted(_CONCEPTS, key=len, reverse=True):
        if len(fix) > 20 and fix in out:
            out, replaced = out.replace(fix, _CONCEPTS[fix]), True
    return out if replaced else concept_of(hint)
