"""Hidden suite for exercise 1: softmax over the last dimension.

The tests come from the description SOFTMAX (grader.verdicts.declared), whose common part with
log_softmax's is row_function's (grader/suites/row_functions.py): the student's softmax against the
reference on random rows of every shape in ROW_SHAPES, on logits around ±1000, and on fixed
far-apart rows (the visible test, released to the student edition as FAR_APART_LOGITS); the input
left unchanged, gradcheck (released as GRADCHECK, on inputs of its own) and the input's device.  The
comparison is check_rows's (``rows=True``): a wrong result is named by the catalogue below, then by
the probes that re-run the student's code on the same rows, then by what is wrong with its values
(``_properties``), else by the formula (``hint``).
"""

import torch

import reference
from grader.suites.common import (
    NO_KEEPDIM,
    ROUGHLY_NORMALISED,
    Case,
    EditionGradcheck,
    Misconception,
    declare,
    normal_values,
    one_tensor,
    wrong_dim_hint,
)
from grader.suites.row_functions import row_function

FORMULA = (
    "softmax(v)_i = exp(v_i - m) / sum_j exp(v_j - m), with m = v.max(dim=-1, keepdim=True).values, "
    "over the LAST dimension"
)

# The likely bugs, recognised from the numbers a submission returns.
NO_MAX = Misconception(
    "no max",
    (
        "exp() overflowed: exp(1000.) is inf and inf / inf = nan (and when every exp() underflows to 0, "
        "0 / 0 = nan). Subtract each row's max before exp: z = x - x.max(dim=-1, keepdim=True).values, "
        "then exp(z) / exp(z).sum(dim=-1, keepdim=True)."
    ),
)
GLOBAL_MAX = Misconception(
    "global max",
    (
        "You subtract the max of the whole tensor, not each row's own max: a row far below the global max "
        "underflows to exp(...) = 0 everywhere and 0 / 0 = nan. Use x.max(dim=-1, keepdim=True).values."
    ),
)
WHOLE_TENSOR = Misconception(
    "whole",
    (
        "You normalise over the whole tensor; softmax normalises each slice along the LAST dimension "
        "separately: .sum(dim=-1, keepdim=True)."
    ),
)
LOST_KEEPDIM = Misconception("keepdim", NO_KEEPDIM)
NOT_NORMALISED = "Every slice along the last dimension must sum to 1: divide by .sum(dim=-1, keepdim=True). " + FORMULA


def _softmax(v, dim, keepdim=True):
    e = torch.exp(v - v.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=keepdim)


def _buggy_versions(x: torch.Tensor):
    """What each bug computes on x, in x's dtype so overflow shows the same way."""
    yield NO_MAX.gives(lambda: torch.exp(x) / torch.exp(x).sum(-1, keepdim=True))
    yield WHOLE_TENSOR.gives(lambda: _softmax(x.reshape(-1), 0).reshape(x.shape))
    yield GLOBAL_MAX.gives(lambda: torch.exp(x - x.max()) / torch.exp(x - x.max()).sum(-1, keepdim=True))
    yield LOST_KEEPDIM.gives(lambda: _softmax(x, -1, keepdim=False))
    yield LOST_KEEPDIM.gives(lambda: _softmax(x - x.amax(-1), -1))
    for d in range(x.dim() - 1):
        yield Misconception("dim", wrong_dim_hint(d, "softmax")).gives(lambda d=d: _softmax(x, d))


def _properties(g, x):
    """A hint from what is wrong with the values ``g`` (of the right shape)."""
    if bool((~torch.isfinite(g)).any()):
        return NO_MAX.hint if x.abs().max() > 80 else "nan or inf although the inputs are moderate. " + FORMULA
    if not ROUGHLY_NORMALISED.allows(g.sum(-1), torch.ones(g.shape[:-1], dtype=g.dtype)):
        return NOT_NORMALISED
    return None  # the declaration's hint: the formula


SOFTMAX = row_function(
    "softmax",
    reference.softmax,
    mistakes=_buggy_versions,
    fallback=_properties,
    hint="Check each part of the formula: " + FORMULA,
    hint_nonfinite=NO_MAX.hint,  # the student edition's, where _properties does not travel
    cases=(
        Case(
            "large_logits",
            "softmax stays finite and correct for logits around ±1000",
            normal_values(1000.0, (6, 5)),
            prefer=NO_MAX,
        ),
        Case(
            "far_apart_logits",
            "softmax of rows like [0, -1000] and [1000, 0, -1000]",
            one_tensor(
                [[0.0, -1000.0, -1000.0], [1000.0, 0.0, -1000.0], [-1000.0, -1000.0, -1000.0]],
                "rows [0, -1000, -1000], [1000, 0, -1000], [-1000, -1000, -1000]",
            ),
            prefer=NO_MAX,
        ),
    ),
    visible="far_apart_logits",
    edition_gradcheck=EditionGradcheck(seed=1001),
    sizes={"gradcheck": (3, 5)},
    inputs_of={"gradcheck": normal_values()},
    points={
        "matches_reference": 5,
        "large_logits": 1.5,
        "far_apart_logits": 1.5,
        "input_not_modified": 0.5,
        "gradcheck": 1,
        "follows_input_device": 0.5,
    },
)
declare(globals(), SOFTMAX)
SHAPES = SOFTMAX.shapes  # ROW_SHAPES, the shapes of test_matches_reference
