"""Hidden suite for exercise 2: a numerically stable log-softmax over the last dimension.

The tests come from the description LOG_SOFTMAX (grader.verdicts.declared), whose common part
with softmax's is row_function's (grader/suites/row_functions.py): the student's log_softmax against
the reference on random rows of every shape in ROW_SHAPES, on logits around ±1000, on rows shifted near ±1000 and ±750, and on fixed rows
where a probability underflows to 0 (the visible test, released to the student edition as
FAR_APART_LOGITS); the input left unchanged, gradcheck (the forward compared first; released as
GRADCHECK, on inputs of its own) and the input's device.  The comparison is check_rows's
(``rows=True``): a wrong result is named by the catalogue below, then by the probes that re-run the
student's code on the same rows, then by what is wrong with its values (``_properties``).
"""

import torch

import reference
from grader.suites.common import (
    NO_KEEPDIM,
    ROUNDING,
    Case,
    EditionGradcheck,
    Misconception,
    declare,
    magnitude,
    normal_values,
    one_tensor,
    randn,
    wrong_dim_hint,
)
from grader.suites.row_functions import row_function

FORMULA = "log_softmax(v)_i = (v_i - m) - log(sum_j exp(v_j - m)), with m = v.max(dim=-1, keepdim=True).values"

# The likely bugs, recognised from the numbers a submission returns.
NO_MAX = Misconception(
    "no max",
    (
        "exp() overflowed or underflowed: subtract each row's max m before exp "
        "(exp(1000.) is inf, and when every exp(v_j) underflows to 0, log(0) = -inf). " + FORMULA
    ),
)
LOG_OF_SOFTMAX = Misconception(
    "log",
    (
        "This looks like log(softmax(x)): a tiny probability such as exp(-1000) underflows to 0 "
        "and log(0) = -inf. Stay in log space: (x - m) - log(sum(exp(x - m))) is always finite."
    ),
)
LOG_OF_SOFTMAX_NO_MAX = Misconception(
    "log", LOG_OF_SOFTMAX.hint + " Subtract the row max before exp() as well: exp(1000.) is inf."
)
GLOBAL_MAX = Misconception(
    "global max",
    (
        "You subtract the max of the whole tensor, not each row's own max: a row far below the global "
        "max underflows to exp(...) = 0 and log(0) = -inf. Use x.max(dim=-1, keepdim=True).values."
    ),
)
SHIFT_ONE_TERM_HINT = (
    "The max shift m is applied to only one of the two terms: the answer is "
    "(x - m) - log(sum(exp(x - m))); x - log(sum(exp(x - m))) is off by m."
)
SHIFT_ONE_TERM = Misconception("shift", SHIFT_ONE_TERM_HINT)
RETURNED_SOFTMAX = Misconception("softmax", "You returned the softmax itself; take the log-probabilities: " + FORMULA)
WHOLE_TENSOR = Misconception(
    "whole",
    (
        "You summed over the whole tensor; log-softmax normalises each slice along the LAST "
        "dimension: .sum(dim=-1, keepdim=True)."
    ),
)
LOST_KEEPDIM = Misconception("keepdim", NO_KEEPDIM)
POSITIVE = "Log-probabilities are never positive. " + FORMULA


def _lse(v, dim):
    m = v.amax(dim=dim, keepdim=True)
    return m + torch.log(torch.exp(v - m).sum(dim=dim, keepdim=True))


def _buggy_versions(x: torch.Tensor):
    """What each bug computes on x, in x's dtype so overflow shows the same way.
    Versions of one bug share its name; the first matching version gives its hint."""
    m = x.amax(dim=-1, keepdim=True)
    yield NO_MAX.gives(lambda: x - torch.log(torch.exp(x).sum(-1, keepdim=True)))
    yield Misconception("no max", SHIFT_ONE_TERM_HINT).gives(
        lambda: (x - m) - torch.log(torch.exp(x).sum(-1, keepdim=True))
    )
    yield LOG_OF_SOFTMAX.gives(lambda: torch.log(torch.exp(x - m) / torch.exp(x - m).sum(-1, keepdim=True)))
    yield LOG_OF_SOFTMAX_NO_MAX.gives(lambda: torch.log(torch.exp(x) / torch.exp(x).sum(-1, keepdim=True)))
    g = x.max() if x.numel() else x.new_zeros(())
    yield GLOBAL_MAX.gives(lambda: (x - g) - torch.log(torch.exp(x - g).sum(-1, keepdim=True)))
    yield SHIFT_ONE_TERM.gives(lambda: x - torch.log(torch.exp(x - m).sum(-1, keepdim=True)))
    yield RETURNED_SOFTMAX.gives(lambda: torch.exp(x - _lse(x, -1)))
    for keep_max, keep_sum in ((False, False), (False, True), (True, False)):

        def no_keepdim(keep_max=keep_max, keep_sum=keep_sum):
            z = x - x.amax(-1, keepdim=keep_max)
            return z - torch.log(torch.exp(z).sum(-1, keepdim=keep_sum))

        yield LOST_KEEPDIM.gives(no_keepdim)
    yield WHOLE_TENSOR.gives(lambda: x - _lse(x.reshape(-1), 0))
    for d in range(x.dim() - 1):
        yield Misconception("dim", wrong_dim_hint(d, "log-softmax")).gives(lambda d=d: x - _lse(x, d))


def _properties(g, x):
    """A hint from what is wrong with the values ``g`` (of the right shape)."""
    finite = torch.isfinite(reference.log_softmax(x.detach().cpu().double()))
    if bool((torch.isneginf(g) & finite).any()):
        return LOG_OF_SOFTMAX.hint
    if bool(((torch.isnan(g) | torch.isposinf(g)) & finite).any()):
        return NO_MAX.hint
    if bool((g > ROUNDING.at(x.dtype, magnitude(x)).atol).any()):  # above 0 by more than rounding
        return POSITIVE
    return "Check each term of the formula: " + FORMULA


def _shifted_rows(rng, dtype, device):
    """Rows of normal values × 3 that all lie near +1000, -1000, +750 or -750."""
    offsets = torch.tensor([[1000.0], [-1000.0], [750.0], [-750.0]], dtype=torch.float64)
    x = (randn(rng, (4, 5), torch.float64, scale=3.0) + offsets).to(dtype).to(device)
    return [x], "rows of normal values × 3 plus 1000, -1000, 750 and -750"


LOG_SOFTMAX = row_function(
    "log_softmax",
    reference.log_softmax,
    mistakes=_buggy_versions,
    fallback=_properties,
    hint="Check each part of the formula: " + FORMULA,
    hint_nonfinite=LOG_OF_SOFTMAX.hint,  # the student edition's, where _properties does not travel
    cases=(
        Case(
            "large_logits",
            "log_softmax stays finite and correct for logits around ±1000",
            normal_values(1000.0, (6, 5)),
        ),
        Case(
            "shifted_logits",
            "log_softmax of rows that all lie near +1000 or near -1000",
            _shifted_rows,
            prefer=NO_MAX,
        ),
        Case(
            "far_apart_logits",
            "log_softmax stays finite for rows like [0, -1000] where a probability underflows to 0",
            one_tensor(
                [[0.0, -1000.0, -1000.0], [0.0, -1000.0, 0.0], [-500.0, 0.0, -1000.0]],
                "rows [0, -1000, -1000], [0, -1000, 0], [-500, 0, -1000]",
            ),
            prefer=LOG_OF_SOFTMAX,
        ),
    ),
    visible="far_apart_logits",
    gradient_forward=True,
    # the student edition's gradcheck draws normal values (× 1) of the hidden test's shape
    edition_gradcheck=EditionGradcheck(seed=1002, inputs=lambda rng: [randn(rng, (2, 3, 4), torch.float64)]),
    sizes={"gradcheck": (2, 3, 4)},
    inputs_of={"gradcheck": normal_values(2.0)},
    points={
        "matches_reference": 3.5,
        "large_logits": 1,
        "shifted_logits": 1,
        "far_apart_logits": 1.5,
        "input_not_modified": 0.5,
        "gradcheck": 1.5,
        "follows_input_device": 1,
    },
)
declare(globals(), LOG_SOFTMAX)
SHAPES = LOG_SOFTMAX.shapes  # ROW_SHAPES, the shapes of test_matches_reference
