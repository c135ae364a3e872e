"""Forbidden built-ins: the lists (``forbidden.toml``), the static scan, the messages.

Two checks, both decided here in the grading process:

* dynamic: the worker (``grader.untrusted.worker``) watches, while the student's code
  runs, for the calls ``worker_spec`` names and REPORTS each one with the line
  of the student's file that made it; ``Student._request`` turns a report into
  a failed test (``dynamic_error``).  Only calls with a frame of the student's
  file on the stack count, so the grader's own torch calls never do.
* static: ``scan`` walks the AST of the student's file (comments and strings
  never count) for the same names, resolved through the file's imports.  The
  worker is student-controlled, so a student could switch the dynamic check
  off; a static finding therefore fails every test of the exercise, the same
  cost as being caught at run time (``static_error``).
"""

from __future__ import annotations

import ast
import fnmatch
import functools
import hashlib

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

from grader.errors import ErrorKind, StudentError
from grader.submission import parts


def _config() -> dict:
    """The course's forbidden built-ins (its course.toml's ``forbidden`` file; none when it names none)."""
    from grader.course import current

    return _read_toml(current().forbidden)


@functools.cache
def _read_toml(path) -> dict:
    if path is None:
        return {}
    with open(path, "rb") as f:
        return tomllib.load(f)


def rules(exercise) -> dict:
    """The exercise's entry of forbidden.toml ({} when it forbids nothing)."""
    return dict(_config().get(exercise.name, {}))


def worker_spec(exercise) -> dict | None:
    """What the worker needs to watch for (plain data for the load request)."""
    r = rules(exercise)
    spec = {k: list(r.get(k, [])) for k in ("calls", "classes", "subclasses_of", "wrap")}
    if not any(spec.values()):
        return None
    spec["engine"] = bool(r.get("engine"))
    spec["within"] = r.get("within") or None
    # aten ops whose kernels the worker replaces (grader.untrusted.detector): the calls' names that are aten ops, and more
    unblocked = r.get("unblocked", [])
    spec["aten"] = [
        op
        for op in dict.fromkeys([*r.get("calls", []), *r.get("aten", [])])
        if not any(fnmatch.fnmatchcase(op, p) for p in unblocked)
    ]
    spec["reason"] = r.get("reason", "")
    return spec


# ---------------------------------------------------------------------------
# static scan


def _dotted(node) -> list | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


class _Scanner(ast.NodeVisitor):
    def __init__(self, r: dict, lines: list):
        self.names = list(r.get("names", []))
        self.allow = list(r.get("allow", []))
        self.methods = set(r.get("methods", []))
        self.within = r.get("within") or None
        self.lines = lines
        self.aliases: dict = {}  # local name -> dotted torch name
        self.own: set = set()  # names the file defines itself
        self.found: list = []
        self.scope: list = []
        self.runs_as_within: set = set()  # functions assigned to `within` (MatMul.backward = staticmethod(_bw))

    def prepare(self, tree) -> None:
        for node in parts.nodes(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    root = a.name.split(".")[0]
                    if root in ("torch", "functorch"):
                        if a.asname:
                            self.aliases[a.asname] = a.name
                        else:
                            self.aliases[root] = root
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                if node.module.split(".")[0] in ("torch", "functorch"):
                    for a in node.names:
                        if a.name != "*":
                            self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        for node in parts.nodes(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name in self.aliases:
                    del self.aliases[node.name]
                self.own.add(node.name)
            value = self._within_value(node)
            if value is not None:
                self.runs_as_within |= {n.id for n in parts.nodes(value) if isinstance(n, ast.Name)}

    def _within_value(self, node):
        """What an assignment makes the `within` function (exercise 8: whatever runs as
        MatMul's backward, whatever its own name): ``backward = f`` in a class,
        ``MatMul.backward = staticmethod(f)``, ``setattr(MatMul, "backward", f)``."""
        if self.within is None:
            return None
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if node.value is not None and any(
                (isinstance(t, ast.Name) and t.id == self.within)
                or (isinstance(t, ast.Attribute) and t.attr == self.within)
                for t in targets
            ):
                return node.value
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) == 3
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == self.within
        ):
            return node.args[2]
        return None

    def _matches(self, full: str) -> bool:
        return any(fnmatch.fnmatchcase(full, p) for p in self.names) and not any(
            fnmatch.fnmatchcase(full, p) for p in self.allow
        )

    def _active(self) -> bool:
        return self.within is None or self.within in self.scope

    def _add(self, node, name: str, shown: str) -> None:
        line = getattr(node, "lineno", 0)
        if any(f["line"] == line and f["call"] == name for f in self.found):
            return
        code = self.lines[line - 1].strip()[:300] if 0 < line <= len(self.lines) else ""
        self.found.append({"call": name, "as": shown, "line": line, "code": code})

    def _visit_scope(self, node):
        is_within = not isinstance(node, ast.ClassDef) and node.name in self.runs_as_within
        self.scope.append(self.within if is_within else node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _visit_scope

    def generic_visit(self, node):
        value = self._within_value(node) if self.within is not None else None
        if value is None:
            return super().generic_visit(node)
        super().generic_visit(node)
        self.scope.append(self.within)  # a lambda assigned as backward runs as backward
        self.visit(value)
        self.scope.pop()

    def visit_Attribute(self, node):
        parts = _dotted(node)
        if parts is None:  # e.g. f(x).softmax: the method name alone decides
            if self._active() and node.attr in self.methods:
                self._add(node, f"Tensor.{node.attr}", f".{node.attr}")
            self.generic_visit(node)
            return
        self._check(node, parts)
        # the chain's prefixes (torch.nn in torch.nn.Softmax) are not names of their own

    def visit_Name(self, node):
        if node.id in self.aliases:
            self._check(node, [node.id])

    def _check(self, node, parts) -> None:
        if not self._active():
            return
        root = parts[0]
        if root in self.aliases and root not in self.own:
            full = ".".join([self.aliases[root], *parts[1:]])
            if self._matches(full):
                self._add(node, full, ".".join(parts))
                return
            # a forbidden prefix used as an object (F = torch.nn.functional.softmax.__call__ ...)
            for i in range(len(parts) - 1, 0, -1):
                pre = ".".join([self.aliases[root], *parts[1:i]])
                if self._matches(pre):
                    self._add(node, pre, ".".join(parts[:i]))
                    return
        elif root not in ("self", "cls") and len(parts) > 1 and parts[-1] in self.methods:
            self._add(node, f"Tensor.{parts[-1]}", ".".join(parts))


def read(path: Path):
    """(text, tree) of the student's file, or None where Python cannot read it
    (the load reports that); ``RecursionError``/``MemoryError`` propagate."""
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        return text, ast.parse(text)
    except (SyntaxError, ValueError):
        return None


UNSCANNED = "the static scan could not walk {file} ({why}), so forbidden built-ins were checked only while the code ran"


def scan_all(path: Path, exercise) -> tuple:
    """(findings, notes): the forbidden names in the exercise's part of the
    student's file (``grader.submission.parts``) as [{"call", "as", "line", "code"}, ...],
    and notes for a human reviewer about what the scan could not walk."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return [], []
    key = (hashlib.sha256(data).digest(), Path(path).name, exercise.name)
    if key not in _SCANNED:  # the tests of an exercise each ask; a file is read once
        while len(_SCANNED) >= 32:
            _SCANNED.pop(next(iter(_SCANNED)))
        _SCANNED[key] = _scan_text(data, Path(path).name, exercise)
    found, notes = _SCANNED[key]
    return [dict(f) for f in found], [dict(n) for n in notes]


_SCANNED: dict = {}


def _scan_text(data: bytes, file: str, exercise) -> tuple:
    r = rules(exercise)
    if not (r.get("names") or r.get("methods")):
        return (), ()
    try:
        text = data.decode("utf-8")
        tree = ast.parse(text)
    except (UnicodeDecodeError, SyntaxError, ValueError):
        return (), ()  # the load reports these
    except (RecursionError, MemoryError):
        return (), (
            {
                "kind": "unscanned",
                "file": file,
                "line": 0,
                "message": UNSCANNED.format(file=file, why="Python's parser gave up on it"),
            },
        )
    try:
        s = _Scanner(r, text.splitlines())
        s.prepare(tree)
        keep, _main = parts.split(tree, exercise)
        for node in keep:
            s.visit(node)
    except (RecursionError, MemoryError) as e:
        why = "an expression is nested too deeply" if isinstance(e, RecursionError) else "it is too large"
        return (), ({"kind": "unscanned", "file": file, "line": 0, "message": UNSCANNED.format(file=file, why=why)},)
    return tuple(sorted(s.found, key=lambda f: f["line"])), ()


def scan(path: Path, exercise) -> list:
    """Forbidden names in the exercise's part of the student's file: [{"call", "as", "line", "code"}, ...]."""
    return scan_all(path, exercise)[0]


# ---------------------------------------------------------------------------
# messages


def _clean(v, n: int = 300) -> str:
    return str(v).replace("\n", " ")[:n]


def _hint(exercise, extra: str = "") -> str:
    instead = rules(exercise).get("instead", "")
    text = f"Use instead: {instead}." if instead else ""
    return (text + " " + extra).strip()


def dynamic_error(exercise, what: str, calls: list):
    """The StudentError for forbidden calls the worker saw during one request."""
    good = [c for c in calls if isinstance(c, dict)][:10]
    if not good:
        return None
    first = good[0]
    where = f"{_clean(first.get('file', exercise.file), 100)}, line {_clean(first.get('line', '?'), 12)}"
    code = _clean(first.get("code", ""))
    if code:
        where += f": `{code}`"
    more = ""
    others = [f"{_clean(c.get('call'), 80)} (line {_clean(c.get('line', '?'), 12)})" for c in good[1:]]
    if others:
        more = "; also " + ", ".join(others)
    reason = rules(exercise).get("reason", "")
    msg = f"{what} called {_clean(first.get('call'), 120)} ({where}){more}"
    if reason:
        msg += f"; {reason}"
    return StudentError(ErrorKind.FORBIDDEN, msg, _hint(exercise))


def static_error(exercise, findings: list, file: str | None = None):
    """The StudentError for forbidden names found in the file (fails every test);
    ``file``: the name the student knows it by (one .py holding every exercise)."""
    f = findings[0]
    shown = f"`{f['as']}`" + (f" ({f['call']})" if f["as"] != f["call"] and not f["call"].startswith("Tensor.") else "")
    msg = f"{file or exercise.file}, line {f['line']} uses {shown}: `{f['code']}`"
    if len(findings) > 1:
        msg += "; also " + ", ".join(f"`{g['as']}` (line {g['line']})" for g in findings[1:6])
    reason = rules(exercise).get("reason", "")
    if reason:
        msg += f"; {reason}"
    return StudentError(
        ErrorKind.FORBIDDEN,
        msg,
        _hint(
            exercise,
            "Remove it even if it is never called: every test of this exercise fails while "
            "the file names a forbidden built-in (comments and strings don't count).",
        ),
    )


def allowed_imports() -> tuple:
    """The course's list of what students' code may import besides the standard library
    (its course.toml's ``imports`` file, else torch alone; grader.untrusted.imports enforces it in the worker)."""
    from grader.course import current

    return tuple(_read_toml(current().imports).get("allowed", ["torch"]))


def imports_hint() -> str:
    return (
        f"Your code may import only the Python standard library and {', '.join(allowed_imports())} "
        "(the course's list, the same on every machine)."
    )
