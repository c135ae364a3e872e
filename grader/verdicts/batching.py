"""Fewer round trips to the worker: torch modules built, set and read back in one request.

The suites of exercises 4, 6, 7 and 9 build torch's own layers in the worker (so that an exercise is
graded on its own) and read their parameters back after each step.  Each helper here makes what would
be several requests one, and says so; a suite asks for what it needs and stays a specification.
"""
from __future__ import annotations

from grader.transport.host import Call, Ref, Student, StudentError
from grader.verdicts.objects import read_values


def params_by_name(info) -> dict:
    """{name: tensor} of an inspection's parameters."""
    return {name: t for name, t, _h in info.get("params", [])}


def build_with_state(student, module: Call, state: dict, what: str):
    """The module ``module`` (a ``Call``) made in the worker and given ``state`` in one request:
    torch's nn.Module.load_state_dict(module, state) makes the module as the request is read, and it
    comes back (a handle) among the arguments after the call."""
    _, (handle, _state) = student.call(Student.torch("nn.Module.load_state_dict"), module, state, _what=what,
                                       _return_args=True)
    return handle


def build_together(student, calls, what: str):
    """Several modules (``Call``s) made in one request inside an nn.ModuleList that is read back in the
    same round trip → (the holder's handle, [[name, tensor, handle] of each module's parameters])."""
    holder, info = student.call(Student.torch("nn.ModuleList"), list(calls), _what=what, _inspect=True)
    return holder, split_by_index(info, len(calls))


def split_by_index(info, n: int) -> list:
    """The parameters of an nn.ModuleList's inspection, per entry: ``"2.weight"`` goes to entry 2 as "weight"."""
    params = [[] for _ in range(n)]
    for name, t, h in info.get("params", []):
        i, _, rest = name.partition(".")
        if i.isdigit() and int(i) < n:
            params[int(i)].append([rest, t, h])
    return params


def holder_of(handle):
    """The handle id of the holder that ``build_together`` made ``handle`` (an entry's Ref) in, or None."""
    parts = getattr(handle, "parts", ())
    return parts[1] if parts[:1] == ("handle",) and len(parts) == 3 else None


def inspect_holder(student, holder_id, what: str):
    return student.inspect(Ref("handle", holder_id), _what=what)


def read_attributes(student, handle, what: str, names) -> dict:
    """{name: value} of the object's attributes ``names``, read in one request; {} when one of them
    cannot be read (each is then read on its own where the test needs it, so that the error names it)."""
    try:
        return dict(zip(names, read_values(student, [handle.attr(n) for n in names],
                                           f"reading {what}.{', .'.join(names)}")))
    except StudentError as e:
        if e.kind != "exception":
            raise
        return {}
