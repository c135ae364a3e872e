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

    def setup(self, spec, module_name, text) -> None:
        """Watch for the exercise's forbidden calls: a TorchFunctionMode for torch
        functions and Tensor methods (entered only around the student's calls),
        recorders in the __init__ of forbidden classes, wrappers for the rest."""
        if not isinstance(spec, dict):
            return
        import ast
        import functools
        import importlib

        import torch
        from torch.overrides import TorchFunctionMode

        self.module = module_name
        self.within = spec.get("within") or None
        try:
            self.class_lines = {n.name: n.lineno for n in ast.walk(ast.parse(text))
                                if isinstance(n, ast.ClassDef)}
        except (SyntaxError, ValueError, RecursionError, MemoryError):  # too deep to parse: no fallback lines
            self.class_lines = {}
        watcher = self

        def resolve(dotted):
            parts = dotted.split(".")
            obj = importlib.import_module(parts[0])
            for i, name in enumerate(parts[1:], 1):
                try:
                    obj = getattr(obj, name)
                except AttributeError:
                    obj = importlib.import_module(".".join(parts[: i + 1]))
            return obj

        names = frozenset(spec.get("calls") or ())
        if names:
            display = self.display

            class _Watch(TorchFunctionMode):
                def __torch_function__(self, func, types, args=(), kwargs=None):
                    if getattr(func, "__name__", None) in names:
                        watcher.note(display(func))
                    return func(*args, **(kwargs or {}))

            self.mode = _Watch()
        if spec.get("aten"):  # below Python: what the mode cannot see (grader.untrusted.detector)
            self.lib = detector.block(
                spec["aten"], lambda shown: watcher.found or watcher.note(shown),
                str(spec.get("reason") or ""))

        classes, bases = [], []
        for dotted in spec.get("classes") or ():
            try:
                classes.append(resolve(dotted))
            except (ImportError, AttributeError):
                pass
        for dotted in spec.get("subclasses_of") or ():
            try:
                bases.append(resolve(dotted))
            except (ImportError, AttributeError):
                pass
        self.classes, self.bases = tuple(classes), tuple(bases)
        for cls in (*classes, *bases):
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

        for dotted in spec.get("wrap") or ():
            try:
                parent_name, attr = dotted.rsplit(".", 1)
                parent = resolve(parent_name)
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

            setattr(parent, attr, wrap(orig, dotted))

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
                    c is not b and issubclass(c, b) and c.__module__.startswith("torch.")
                    for b in self.bases):
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
        f = sys._getframe(1)
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
        self.watcher.on = False
        if self.mode is not None:
            self.mode.__exit__(*exc)
        return False

