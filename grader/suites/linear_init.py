"""Exercise 4's suite: whether Linear's weight comes from torch's seeded random generator.

A weight made with torch.empty (or torch.Tensor(in_dim, out_dim)) holds whatever was in memory:
finite in one run, nan in the next.  The probe here builds two layers after the same seed with torch
filling unfilled memory with nan (and, for an older torch that cannot, with memory freed just before
holding nan), so that such a weight fails the same way in every run.
"""

import weakref

import torch

from grader.transport.student import Call, Handle, Student, StudentError
from grader.verdicts.checks import Failure
from grader.verdicts.objects import read_values

UNINIT_HINT = (
    "The weight is uninitialised memory: torch.empty(in_dim, out_dim) and torch.Tensor(in_dim, out_dim) "
    "only allocate, so its values are whatever was in memory before (garbage, sometimes nan or inf), "
    "different from run to run. Fill it: `torch.randn(in_dim, out_dim) * math.sqrt(init_factor / "
    "in_dim)`, so that torch.manual_seed makes it reproducible."
)
_INIT: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def init_is_seeded(student) -> None:
    """Fail (the same way in every test that uses the layer's own random weight) when Linear's weight
    is not drawn from torch's seeded generator: two Linear(7, 3) built after the same
    torch.manual_seed differ, or hold nan or inf.  Asked once per exercise, with unfilled memory
    reading as nan (see above), so that uninitialised memory shows; else the score of such a layer would
    change from run to run (its garbage is finite in one run, nan in the next)."""
    if student not in _INIT:
        _INIT[student] = _probe_init(student)
    if _INIT[student]:
        raise Failure(_INIT[student], UNINIT_HINT)


def _probe_init(student) -> str | None:
    seed = Call(Student.torch("manual_seed"), 20240)
    make = lambda: Call(student.ref("Linear"), 7, 3)  # noqa: E731
    what = "Linear(7, 3) twice, after the same torch.manual_seed"
    try:
        built = student.call(
            Call(Student.torch("nn.Identity")),
            [seed, make(), seed, make()],
            _what=what,
            _before=[Call(Student.torch("full"), (n,), float("nan")) for n in (21, 21, 256, 21)],
            _fill_uninitialised=True,
        )
        first, second = built[1], built[3]
        if not (isinstance(first, Handle) and isinstance(second, Handle)):
            return None
        weights = read_values(student, [first.attr("weight"), second.attr("weight")], f"reading {what}: weights")
    except (StudentError, TypeError, IndexError):
        return None  # the tests report what goes wrong in building or reading a layer
    if not all(isinstance(w, torch.Tensor) and w.is_floating_point() for w in weights):
        return None
    a, b = (w.detach().cpu() for w in weights)
    if bool(torch.isfinite(a).all()) and bool(torch.isfinite(b).all()) and a.shape == b.shape and torch.equal(a, b):
        return None
    # one message whatever the garbage was, so that the report is the same in every run
    return (
        "Linear(7, 3).weight does not come from torch's random generator: two layers built after the same "
        "torch.manual_seed have different weights, or weights that hold nan or inf"
    )
