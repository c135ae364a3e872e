"""Fewer round trips to the worker: torch modules built, set and read back in one request.

The suites of exercises 4, 6 and 9 build torch's own layers in the worker (so that an exercise is
graded on its own) and read their parameters back after each step.  Each helper here makes what would
be several requests one, and says so; a suite asks for what it needs and stays a specification.
"""

from __future__ import annotations

from grader.transport.student import Call, Ref, Student, StudentError
from grader.verdicts.objects import read_values


def params_by_name(info) -> dict:
    """{name: tensor} of an inspection's parameters."""
    return {name: t for name, t, _h in info.get("params", [])}


def build_with_state(student, module: Call, state: dict, what: str):
    """The module ``module`` (a ``Call``) made in the worker and given ``state`` in one request:
    torch's nn.Module.load_state_dict(module, state) makes the module as the request is read, and it
    comes back (a handle) among the arguments after the call."""
    _, (handle, _state) = student.call_and_args(Student.torch("nn.Module.load_state_dict"), module, state, _what=what)
    return handle


def read_attributes(student, handle, what: str, names) -> dict:
    """{name: value} of the object's attributes ``names``, read in one request; {} when one of them
    cannot be read (each is then read on its own where the test needs it, so that the error names it)."""
    try:
        return dict(
            zip(names, read_values(student, [handle.attr(n) for n in names], f"reading {what}.{', .'.join(names)}"))
        )
    except StudentError as e:
        if e.kind != "exception":
            raise
        return {}


# -- torch layers built together and read back together ---------------------------------------
# A suite mirrors each layer it builds in the worker with an object that has ``handle`` (the layer in
# the worker), ``label`` (its description), ``take(params)`` (the layer's [name, tensor, handle]
# entries, as read) and ``refresh(student)`` (reads them back on its own).


def build_together(student, calls, what: str):
    """Several modules (``Call``s) made in one request inside an nn.ModuleList that is read back in the
    same round trip → [(the entry's Ref, its [name, tensor, handle] parameters), ...]."""
    if not calls:
        return []
    holder, info = student.call_and_inspect(Student.torch("nn.ModuleList"), list(calls), _what=what)
    params = [[] for _ in calls]
    for name, t, h in info.get("params", []):
        i, _, rest = name.partition(".")
        params[int(i)].append([rest, t, h])
    return [(holder.attr(str(i)), params[i]) for i in range(len(calls))]


def holder_of(layer):
    """The handle id of the nn.ModuleList that ``build_together`` made ``layer`` in, None for one made apart."""
    parts = getattr(layer.handle, "parts", ())
    return parts[1] if parts[:1] == ("handle",) and len(parts) == 3 else None


def _take_group(info, group) -> None:
    """Give the layers ``group``, built together, their parameters from the inspection of their holder."""
    params = {}
    for name, t, h in info.get("params", []):
        i, _, rest = name.partition(".")
        params.setdefault(i, []).append([rest, t, h])
    for layer in group:
        layer.take(params.get(layer.handle.parts[2], []))


def refresh(student, layers) -> None:
    """Read every layer's parameters back: one request for the layers that ``build_together`` made together."""
    holders = {}
    for layer in layers:
        hid = holder_of(layer)
        if hid is not None:
            holders.setdefault(hid, []).append(layer)
        else:
            layer.refresh(student)
    for hid, group in holders.items():
        _take_group(student.inspect(Ref("handle", hid), _what="inspecting " + ", ".join(x.label for x in group)), group)


def call_and_refresh(student, layers, fn, *args, _what) -> None:
    """student.call(fn, *args), then refresh(layers): in the same request when ``build_together`` made them all."""
    hids = {holder_of(layer) for layer in layers}
    if len(hids) != 1 or None in hids:
        student.call(fn, *args, _what=_what)
        refresh(student, layers)
        return
    _, info = student.call_and_inspect(fn, *args, _what=_what, _of=Ref("handle", hids.pop()))
    _take_group(info, layers)
