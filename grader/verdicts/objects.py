"""The student's objects seen from the grader: what a class is, what it derives from, and
several of its values read in one round trip.

Request batching lives here and in grader.verdicts.gradcheck, not in the suites: a suite asks
for what it needs (``read_values``, ``class_info``) and these make as few requests as they can.
"""

from __future__ import annotations

import weakref

from grader.transport.student import Call, Handle, Student
from grader.verdicts.checks import check

_CLASS_INFO: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def class_info(student, name: str) -> dict:
    """``student.inspect`` of the class ``name`` in the student's file, asked once per exercise
    (the class is the file's: it does not change from test to test)."""
    known = _CLASS_INFO.setdefault(student, {})
    if name not in known:
        known[name] = student.inspect(student.ref(name), _what=f"inspecting the class {name}")
    return known[name]


def read_values(student, refs, what: str) -> list:
    """The values of several worker-side names (``Ref``s such as ``handle.attr("grad")``) in one
    round trip instead of one ``getattr`` each: torch's nn.Identity gives back the list it gets."""
    return student.call(Call(Student.torch("nn.Identity")), list(refs), _what=what)


def assert_made_object(value, what: str, hint: str) -> None:
    """The student's constructor call ``what`` gave an object (a handle in the worker), not a tensor
    or a plain value."""
    check(isinstance(value, Handle) and "Tensor" not in value.type, f"{what} did not make a layer object", hint)


def assert_not_torch_class(student, obj: Handle, class_name: str, forbidden, what: str, hint: str, bases=None) -> None:
    """The object ``what`` (of the student's class ``class_name``) is not one of torch's own
    classes ``forbidden`` (their qualified names), nor made from a class derived from one.
    ``bases``: the class's bases where the caller already has them (default: class_info)."""
    if bases is None:
        bases = class_info(student, class_name).get("bases") or []
    forbidden = (forbidden,) if isinstance(forbidden, str) else tuple(forbidden)
    used = [t for t in [obj.type, *bases] if t in forbidden]
    check(not used, f"{what} is (or derives from) torch's own {used[0] if used else ''}", hint)
