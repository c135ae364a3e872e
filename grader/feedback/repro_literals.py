"""How a reproducer writes what a test sent as Python: literals for tensors and plain values,
names for the worker's objects, calls with the reference's argument names
(``grader.feedback.reproducers`` decides which statements a reproducer has)."""

from __future__ import annotations

import inspect
import keyword
import re
import struct

import torch

from grader.verdicts.checks import dtype_str
from grader.wire.codec import Call, Handle, Ref

REPRO_ENTRIES = 64  # at most this many input entries in all, and as many expected; more: no reproducer


class NoReproducer(Exception):
    """The test's calls cannot be shown faithfully in a short script."""


def identifier(text: str, default: str) -> str:
    name = re.sub(r"\W", "_", str(text).rsplit(".", 1)[-1]).strip("_")
    if not name or not name.isidentifier() or keyword.iskeyword(name) or name == "torch":
        return default
    return name


def _float(v: float, dtype: torch.dtype) -> str:
    if v != v:
        return "float('nan')"
    if v in (float("inf"), float("-inf")):
        return "float('inf')" if v > 0 else "-float('inf')"
    if dtype == torch.float32:  # the shortest decimal that gives the same float32
        for digits in range(1, 10):
            short = float(f"{v:.{digits}g}")
            try:
                if struct.unpack("f", struct.pack("f", short))[0] == v:
                    return repr(short)
            except OverflowError:  # rounded up past float32's largest value
                continue
    return repr(v)


def _nested(values, fmt) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v, fmt) for v in values) + "]"
    return fmt(values)


def _tensor_literal(t: torch.Tensor, requires_grad: bool, indent: int) -> str:
    t = t.detach()
    dtype = t.dtype
    if dtype.is_complex:
        raise NoReproducer
    options = [] if dtype in (torch.float32, torch.int64, torch.bool) else [f"dtype=torch.{dtype_str(dtype)}"]
    if t.device.type != "cpu":
        options.append(f"device={t.device.type!r}")
    if requires_grad:
        options.append("requires_grad=True")
    tail = "".join(", " + o for o in options) + ")"
    if t.numel() == 0:
        options = [f"dtype=torch.{dtype_str(dtype)}"] + [o for o in options if not o.startswith("dtype")]
        return f"torch.empty({tuple(t.shape)!r}, {', '.join(options)})"
    if dtype.is_floating_point:
        fmt = lambda v: _float(v, dtype)  # noqa: E731
    else:
        fmt = str
    values = t.cpu().tolist()
    text = "torch.tensor(" + _nested(values, fmt) + tail
    if t.dim() >= 2 and indent + len(text) > 88:  # one row of the first dimension a line
        pad = " " * (indent + len("torch.tensor(["))
        rows = [_nested(row, fmt) for row in values]
        text = "torch.tensor([" + (",\n" + pad).join(rows) + "]" + tail
    return text


class Writer:
    """The values and calls of a test's requests as Python expressions; the statements
    that hold them are ``_Script``'s (grader.feedback.reproducers)."""

    def __init__(self, trace, module: str):
        self.trace = trace
        self.module = module
        self.imports: list = []  # names from the student's module
        self.lines: list = []
        self.names: set = set()
        self.handles: dict = {}  # worker object id → variable
        self.kinds: dict = {}  # worker object id → the reference class it was made from (for argument names)
        self.entries = 0
        self.rec = None
        self.sent: dict = {}  # tensor id → its variable, in the latest call
        self.pending: list = []  # tensor literals for the next statement
        self.block: int | None = None  # the line of the open `with torch.no_grad():`, if any

    def _name(self, base: str) -> str:
        name, n = base, 2
        while name in self.names or name in self.imports:
            name, n = f"{base}{n}", n + 1
        self.names.add(name)
        return name

    # -- expressions ---------------------------------------------------------------
    def _call(self, rec, wrt=()) -> str:
        fn = rec["fn"]
        names = self._arg_names(fn)
        args = []
        for k, a in enumerate(rec.get("args") or ()):
            args.append(self._value(a, names[k] if k < len(names) else None, requires_grad=k in wrt))
        for key, v in (rec.get("kwargs") or {}).items():
            args.append(f"{self._attr(key)}={self._value(v, key, requires_grad=key in wrt)}")
        return f"{self._value(fn)}({', '.join(args)})"

    def _arg_names(self, fn) -> list:
        """The reference's parameter names for ``fn`` (softmax(x), Linear.forward(X), ...)."""
        names = argument_names()
        if isinstance(fn, Ref) and fn.parts[:1] == ("student",) and len(fn.parts) >= 2:
            return list(names.get(str(fn.parts[1]) if len(fn.parts) == 2 else f"{fn.parts[1]}.*", []))
        if isinstance(fn, (Handle, Ref)):
            hid = fn.id if isinstance(fn, Handle) else (fn.parts[1] if len(fn.parts) == 2 else None)
            if isinstance(fn, Ref) and len(fn.parts) > 2 and isinstance(fn.parts[-2], str):
                return [fn.parts[-2]]  # linear.bias.copy_(bias)
            kind = self.kinds.get(hid, "")
            return list(names.get(f"{kind}.forward", [])) if kind else []
        return []

    def _parameter(self, owner: str, name: str) -> str:
        """The module's parameter ``name`` ('weight', '0.weight')."""
        if name.isidentifier() and not keyword.iskeyword(name):
            return f"{owner}.{name}"
        return f"{owner}.get_parameter({name!r})"

    def _attr(self, name) -> str:
        if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)):
            raise NoReproducer
        return name

    def _ref(self, ref: Ref) -> str:
        parts = list(ref.parts)
        root = parts.pop(0) if parts else None
        if root == "student" and parts:
            self.imports.append(self._attr(parts[0]))
            text = parts.pop(0)
        elif root == "torch":
            text = "torch"
        elif root == "handle" and parts:
            text = self._handle(parts.pop(0))
        else:
            raise NoReproducer
        for p in parts:
            text += f"[{p}]" if type(p) is int else "." + self._attr(p)
        return text

    def _handle(self, hid) -> str:
        if hid not in self.handles:
            raise NoReproducer  # an object the script does not know how to make
        return self.handles[hid]

    def _value(self, v, name: str | None = None, requires_grad: bool = False, depth: int = 0) -> str:
        if depth > 8:
            raise NoReproducer
        if isinstance(v, torch.Tensor):
            return self._tensor(v, name, requires_grad, inline=depth > 0)
        if isinstance(v, Handle):
            return self._handle(v.id)
        if isinstance(v, Ref):
            return self._ref(v)
        if isinstance(v, Call):  # made in the worker as it read the request: the same call, inline
            args = [self._value(a, depth=depth + 1) for a in v.args]
            args += [f"{self._attr(k)}={self._value(x, k, depth=depth + 1)}" for k, x in v.kwargs.items()]
            return f"{self._value(v.fn, depth=depth + 1)}({', '.join(args)})"
        if v is None or type(v) in (bool, int, str):
            return repr(v)
        if type(v) is float:
            return _float(v, torch.float64)
        if isinstance(v, torch.dtype):
            return f"torch.{dtype_str(v)}"
        if isinstance(v, torch.device):
            return repr(str(v))
        if type(v) in (list, tuple):
            items = [self._value(x, name, depth=depth + 1) for x in v]
            if type(v) is tuple:
                return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
            return "[" + ", ".join(items) + "]"
        if type(v) is dict and all(type(k) is str for k in v):
            return "{" + ", ".join(f"{k!r}: {self._value(x, k, depth=depth + 1)}" for k, x in v.items()) + "}"
        raise NoReproducer

    def _tensor(self, t: torch.Tensor, name: str | None, requires_grad: bool, inline: bool = False) -> str:
        """The tensor as it was sent: a literal inside a list, a dict or an assignment,
        else a variable (a fresh one for every use, as the worker got a fresh copy)."""
        copy = self.rec["copies"].get(id(t)) if self.rec is not None else None
        if copy is None:
            raise NoReproducer  # too large to show (or not sent by this request)
        self.entries += copy.numel()
        if self.entries > REPRO_ENTRIES:
            raise NoReproducer
        if inline:
            return _tensor_literal(copy, requires_grad or t.requires_grad, 8)
        var = self._name(identifier(name or "x", "x"))
        self.sent[id(t)] = var
        literal = _tensor_literal(copy, requires_grad or t.requires_grad, len(var) + 3)
        self.pending.append(f"{var} = {literal}")
        return var


ARGUMENT_NAMES = "argument_names.json"  # the student edition's copy (grader/suites/), written by grade release


def reference_argument_names(module=None) -> dict:
    """{name: its parameter names} of what the reference (the built-in course's package, or the
    module given) defines: ``softmax`` → [x], ``Linear`` → its constructor's, ``Linear.forward`` →
    [X], an autograd Function's ``MatMul`` and ``MatMul.*`` (``MatMul.apply``) → its forward's
    (ctx left out)."""
    if module is None:
        import reference

        module = reference
    out = {}
    for name in getattr(module, "__all__", None) or dir(module):
        target = getattr(module, name, None)
        if name.startswith("_") or target is None:
            continue
        if isinstance(target, type) and issubclass(target, torch.autograd.Function):
            out[name] = out[f"{name}.*"] = _params(target.forward)
        elif isinstance(target, type):
            out[name] = _params(target)
            if callable(getattr(target, "forward", None)):
                out[f"{name}.forward"] = _params(target.forward)
        elif callable(target):
            out[name] = _params(target)
    return {k: v for k, v in out.items() if v is not None}


def _params(target):
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return None
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [n for n in names if n not in ("self", "ctx")]


_NAMES: dict = {}


def argument_names() -> dict:
    """The reference's parameter names (reference_argument_names); in the student edition,
    which holds no reference, the copy ``grade release`` stored as data."""
    if not _NAMES:
        try:
            _NAMES.update(reference_argument_names())
        except ImportError:
            import json
            from pathlib import Path

            stored = Path(__file__).resolve().parents[1] / "suites" / ARGUMENT_NAMES
            try:
                _NAMES.update(json.loads(stored.read_text()))
            except (OSError, ValueError):
                pass
    return _NAMES
