"""The forbidden-call watcher: in the worker, around the student's calls.

``grader.verdicts.forbidden`` decides, in the grading process; this only reports
what the student's code called (with its line): a TorchFunctionMode for torch
functions and Tensor methods (entered only around the student's calls),
recorders in the ``__init__`` of forbidden classes, wrappers for the rest, and
torch's kernels of forbidden aten ops replaced (``grader.untrusted.detector``).
The worker's request loop (``grader.untrusted.server``) holds one ``Watcher``;
each reply carries what it found (``report``).
"""

from __future__ import annotations

import os
import sys
from types import FrameType

from grader.untrusted import detector


class Watcher:
    """What the student's code called of the exercise's forbidden built-ins."""

    def __init__(self) -> None:
        self.path = None  # the student's file: only calls from its frames count
        self.on = False  # inside a student's call
        self.nested = False  # inside a wrapped call already reported
        self.mode = None  # the TorchFunctionMode, if the exercise forbids torch functions
        self.found: list = []
        self.module = self.within = self.lib = None
        self.class_lines: dict = {}
        self.classes = self.bases = ()
        self.tampered = None  # what of the grader's hooks was found removed or replaced (sticky)
        self._tables = None  # (read the dispatcher's tables of the blocked ops, as set up): ``check(full=True)``
        self._expected: tuple | None = None  # the hooks as set up: checked by identity (``check``)

    def setup(self, spec, module_name, text) -> None:
        """Watch for the exercise's forbidden calls: a TorchFunctionMode for torch
        functions and Tensor methods (entered only around the student's calls),
        recorders in the __init__ of forbidden classes, wrappers for the rest."""
        if not isinstance(spec, dict):
            return
        import functools

        import torch  # noqa: F401

        self.module = module_name
        self.within = spec.get("within") or None
        self.class_lines = _class_lines(text)
        watcher = self

        names = frozenset(spec.get("calls") or ())
        if names:
            self.mode = _torch_function_watch(watcher, names)
        if spec.get("aten"):  # below Python: what the mode cannot see (grader.untrusted.detector)
            self.lib = detector.block(
                spec["aten"], lambda shown: watcher.found or watcher.note(shown), str(spec.get("reason") or "")
            )

        hooks: list = []  # (what, read the hook now, the object it must be)
        if self.lib is not None:  # the registrations live as long as the Library's module object
            lib, m, handles = self.lib, self.lib.m, list(getattr(self.lib, "_registration_handles", ()))
            hooks.append(
                (
                    "the registration of the kernels blocking forbidden aten ops",
                    lambda: (lib.m, *lib._registration_handles),
                    (m, *handles),
                )
            )
            ops = getattr(lib, "nngrade_registered", ())
            self._tables = (functools.partial(_dispatch_tables, ops), _dispatch_tables(ops))
        if spec.get("engine"):  # the autograd engine's entry (what torch.autograd.grad and backward call)
            hooks.append(_watch_engine(watcher))

        classes, bases = _resolve_all(spec.get("classes")), _resolve_all(spec.get("subclasses_of"))
        self.classes, self.bases = tuple(classes), tuple(bases)
        hooks += _record_inits(watcher, (*classes, *bases))
        hooks += _wrap_calls(watcher, spec.get("wrap") or ())
        if self.mode is not None:
            hooks.append(
                (
                    "the torch-function watch",
                    functools.partial(getattr, type(self.mode), "__torch_function__"),
                    type(self.mode).__torch_function__,
                )
            )
        for cls, methods in (
            (Watcher, ("note", "watch", "report", "check", "display", "object_made")),
            (Watching, ("__enter__", "__exit__")),
        ):  # not `names`: the mode's closure reads it
            for name in methods:
                hooks.append((f"the watcher's {name}", functools.partial(_class_attr, cls, name), cls.__dict__[name]))
        self._expected = tuple(hooks)

    def check(self, full: bool = False) -> str | None:
        """What of the grader's hooks (kernel registrations, the torch-function watch, wrappers,
        recorders, the watcher's own methods) is no longer what ``setup`` installed, compared by
        identity, or None; once tampered, always.  ``full``: also compare the dispatcher's own
        tables of the blocked ops (C++ state; about a millisecond per exercise's ops, so after
        the load, where module-level code runs, rather than after every call)."""
        if self.tampered is None and self._expected is not None:
            for what, read, expected in self._expected:
                try:
                    now = read()
                except Exception:
                    now = _GONE
                if now is not expected and now != expected:
                    self.tampered = f"{what} was removed or replaced"
                    break
        if self.tampered is None and full and self._tables is not None:
            read, expected = self._tables
            try:
                same = read() == expected
            except Exception:
                same = False
            if not same:
                self.tampered = "the registration of the kernels blocking forbidden aten ops was removed or replaced"
        return self.tampered

    @staticmethod
    def display(func) -> str:
        name = getattr(func, "__name__", "?")
        owner = getattr(func, "__objclass__", None)
        if owner is not None:
            return f"Tensor.{name}"
        mod = getattr(func, "__module__", None) or ""
        if mod == "torch._tensor":
            return "torch." + getattr(func, "__qualname__", name)
        if mod in ("torch", "torch._C._VariableFunctions"):
            return f"torch.{name}"
        if mod in ("torch._C._nn", "torch.nn.functional"):
            return "torch.nn.functional." + name.lstrip("_")
        if mod == "torch._C._special":
            return "torch.special." + name.removeprefix("special_")
        return f"{mod}.{name}" if mod else name

    def object_made(self, obj) -> None:
        t = type(obj)
        hit = None
        for c in t.__mro__:
            if c in self.classes or any(
                c is not b and issubclass(c, b) and c.__module__.startswith("torch.") for b in self.bases
            ):
                hit = c
                break
        if hit is None:
            return
        mod = hit.__module__
        if mod.startswith("torch.nn.modules"):
            mod = "torch.nn"
        elif mod.startswith("torch.optim"):
            mod = "torch.optim"
        fallback = None
        if t.__module__ == self.module:  # a class of the student's file inherits it
            fallback = self.class_lines.get(t.__name__)
        self.note(f"{mod}.{hit.__qualname__}", fallback)

    def note(self, call: str, fallback_line=None) -> bool:
        """Record ``call`` if a frame of the student's file (inside ``within``,
        when set) is on the stack: the grader's own torch calls don't count."""
        if not self.on or len(self.found) >= 10:
            return False
        within = self.within
        f: FrameType | None = sys._getframe(1)
        line = None
        while f is not None:
            if f.f_code.co_filename == self.path:
                if line is None:
                    line = f.f_lineno
                if within is None or detector.runs_as(f, within):
                    break
            f = f.f_back
        if f is None:
            if fallback_line is None or within is not None:
                return False
            line = fallback_line
        if any(r["line"] == line and r["call"] == call for r in self.found):
            return True
        try:
            import linecache

            code = linecache.getline(self.path, line).strip()[:300]
        except Exception:
            code = ""
        self.found.append({"call": call, "file": os.path.basename(self.path), "line": line, "code": code})
        return True

    def watch(self):
        self.found = []
        return Watching(self)

    def report(self, reply: dict) -> dict:
        if self.found:
            reply["forbidden"] = list(self.found)
            self.found = []
        return reply


class Watching:
    """Around a student's call: the forbidden-call watch on (and its
    TorchFunctionMode entered, if the exercise has one), off again after."""

    __slots__ = ("watcher", "mode")

    def __init__(self, watcher: Watcher):
        self.watcher = watcher
        self.mode = watcher.mode

    def __enter__(self):
        if self.mode is not None:
            self.mode.__enter__()
        self.watcher.on = True
        return self

    def __exit__(self, *exc):
        watcher = self.watcher
        if watcher.on is not True and watcher.tampered is None:
            watcher.tampered = "the forbidden-call watch was switched off"
        watcher.on = False
        if self.mode is not None:
            if _top_mode() is not self.mode and watcher.tampered is None:
                watcher.tampered = "the torch-function watch was removed from torch's mode stack"
            try:
                self.mode.__exit__(*exc)
            except Exception:  # popped by the student: already reported above
                pass
        return False


_GONE = object()


def _class_lines(text: str) -> dict:
    """The line of each class the student's file defines (none when it is too deep to parse)."""
    import ast

    try:
        return {n.name: n.lineno for n in ast.walk(ast.parse(text)) if isinstance(n, ast.ClassDef)}
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # too deep to parse: no fallback lines
        return {}


def _resolve(dotted: str):
    """The object a dotted name names, importing the modules on its way."""
    import importlib

    parts = dotted.split(".")
    obj = importlib.import_module(parts[0])
    for i, name in enumerate(parts[1:], 1):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            obj = importlib.import_module(".".join(parts[: i + 1]))
    return obj


def _resolve_all(dotted_names) -> list:
    """The objects of the names that resolve (a name torch lacks is skipped)."""
    found = []
    for dotted in dotted_names or ():
        try:
            found.append(_resolve(dotted))
        except (ImportError, AttributeError):
            pass
    return found


def _torch_function_watch(watcher: Watcher, names: frozenset):
    """A TorchFunctionMode noting each call of a function or Tensor method named in ``names``."""
    from torch.overrides import TorchFunctionMode

    display = watcher.display

    class _Watch(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            if getattr(func, "__name__", None) in names:
                watcher.note(display(func))
            return func(*args, **(kwargs or {}))

    return _Watch()


def _record_inits(watcher: Watcher, classes) -> list:
    """A recorder in each class's own ``__init__`` (an object made during a student's call);
    returns their hooks."""
    import functools

    hooks = []
    for cls in classes:
        orig = cls.__dict__.get("__init__")
        if orig is None:
            continue

        def make(orig):
            @functools.wraps(orig)
            def __init__(obj, *a, **k):
                if watcher.on:
                    watcher.object_made(obj)
                return orig(obj, *a, **k)

            return __init__

        cls.__init__ = make(orig)
        hooks.append(
            (
                f"the recorder in {cls.__qualname__}.__init__",
                functools.partial(_class_attr, cls, "__init__"),
                cls.__dict__["__init__"],
            )
        )
    return hooks


def _wrap_calls(watcher: Watcher, dotted_names) -> list:
    """A reporting wrapper in place of each named function; returns their hooks."""
    import functools

    hooks = []
    for dotted in dotted_names:
        try:
            parent_name, attr = dotted.rsplit(".", 1)
            parent = _resolve(parent_name)
            orig = getattr(parent, attr)
        except (ImportError, AttributeError, ValueError):
            continue

        def wrap(orig, shown):
            @functools.wraps(orig)
            def wrapper(*a, **k):
                # report the outermost call (Tensor.backward, not the
                # torch.autograd.backward it calls in turn)
                if watcher.on and not watcher.nested and watcher.note(shown):
                    watcher.nested = True
                    try:
                        return orig(*a, **k)
                    finally:
                        watcher.nested = False
                return orig(*a, **k)

            del wrapper.__wrapped__  # no way back to the unwatched function through the wrapper
            return wrapper

        wrapped = wrap(orig, dotted)
        setattr(parent, attr, wrapped)
        hooks.append((f"the wrapper of {dotted}", functools.partial(getattr, parent, attr), wrapped))
    return hooks


def _class_attr(cls, name):
    return cls.__dict__.get(name, _GONE)


def _dispatch_tables(ops) -> tuple:
    """The dispatcher's tables of the qualified aten ``ops``: which kernel each key runs
    (C++ state, not a Python flag)."""
    import torch

    return tuple(torch._C._dispatch_dump_table(op) for op in ops)


def _top_mode():
    import torch

    n = torch._C._len_torch_function_stack()
    return torch._C._get_function_stack_at(n - 1) if n else None


def _watch_engine(watcher: Watcher):
    """Put a watched stand-in for the autograd engine where torch's Python code finds it
    (``Variable._execution_engine``: what ``torch.autograd.grad``, ``Tensor.backward`` and a
    direct ``run_backward`` call reach); a call from within the watched function is reported.
    Returns the hook for ``Watcher.check``."""
    from torch.autograd.variable import Variable

    engine = Variable._execution_engine
    shown = "torch.autograd's engine (run_backward)"

    class WatchedEngine:
        __slots__ = ()

        def run_backward(self, *a, **k):
            if watcher.on and not watcher.nested and watcher.note(shown):
                watcher.nested = True
                try:
                    return engine.run_backward(*a, **k)
                finally:
                    watcher.nested = False
            return engine.run_backward(*a, **k)

        def __getattr__(self, name):
            return getattr(engine, name)

    proxy = WatchedEngine()
    Variable._execution_engine = proxy
    return ("the watch on autograd's engine", lambda: Variable.__dict__.get("_execution_engine", _GONE), proxy)
