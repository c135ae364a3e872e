"""The integrity scan: code whose only use in these exercises is evasion.

Anything the worker checks inside the student's own process can be undone
there (its detector patched through ``sys.modules["__main__"]``, a wrapper
unwrapped through ``__wrapped__``, torch's function handling switched off), so
the grader also reads the source.  The rules live in ``integrity.toml`` (one
file an instructor can edit).  A finding in an exercise's part of the file
(``grader.submission.parts``) costs that exercise its points, with a message naming the
line and why, and lists the exercise as "needs review" (the report's
``review`` field).  Only code that can run while the exercise is graded counts
(``grader.submission.parts.executed``): a helper nothing calls and ``__main__`` blocks
never run.  What the scan cannot walk is a review note, never a lost
point.  Every walk is iterative: a deeply nested expression cannot crash it.
"""

from __future__ import annotations

import ast
import builtins
import fnmatch
import functools
import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib
from pathlib import Path

from grader.errors import ErrorKind, StudentError
from grader.submission import parts
from grader.verdicts import forbidden
from grader.verdicts.forbidden import _dotted

CONFIG = Path(__file__).resolve().parent / "integrity.toml"
BUILTINS = frozenset(dir(builtins)) | {"__builtins__"}
GETATTRS = ("getattr", "setattr", "hasattr", "delattr")


@functools.cache
def rules() -> tuple:
    with open(CONFIG, "rb") as f:
        return tuple(tomllib.load(f).get("rule", []))


class _Resolver:
    """Local names → dotted names, through the file's imports and Python's built-ins."""

    def __init__(self, tree):
        self.aliases: dict = {}
        own: set = set()
        for node in parts.nodes(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        self.aliases[a.asname] = a.name
                    else:
                        root = a.name.split(".")[0]
                        self.aliases[root] = root
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for a in node.names:
                    if a.name != "*":
                        self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                own.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                own.add(node.id)
            elif isinstance(node, ast.arg):
                own.add(node.arg)
        for name in own:
            self.aliases.pop(name, None)
        self.own = own

    def full(self, parts_: list) -> str | None:
        root = parts_[0]
        if root in self.aliases:
            return ".".join([self.aliases[root], *parts_[1:]])
        if root in BUILTINS and root not in self.own:
            return ".".join(["builtins", *parts_])
        return None


def _match(name: str, patterns) -> bool:
    """Whether ``name`` matches one of the shell-style ``patterns`` (as ``fnmatch.fnmatchcase``)."""
    rx = _one_pattern(tuple(patterns))
    return rx is not None and rx.match(name) is not None


@functools.cache
def _one_pattern(patterns: tuple):
    """The patterns as one compiled expression (a file's scan matches thousands of names)."""
    return re.compile("|".join(fnmatch.translate(p) for p in patterns)) if patterns else None


class _Scan:
    """One scan of a file's executed nodes against every rule: each kind of node has its
    own small check; a line gets one finding, the first rule's (the walk's order decides)."""

    def __init__(self, resolver: _Resolver, lines: list):
        self.resolver, self.lines = resolver, lines
        self.found: list = []
        self.lines_found: set = set()

    def add(self, node, rule, shown: str) -> None:
        line = getattr(node, "lineno", 0)
        if line in self.lines_found:  # one finding a line: the most specific rule's
            return
        self.lines_found.add(line)
        code = self.lines[line - 1].strip()[:300] if 0 < line <= len(self.lines) else ""
        self.found.append(
            {"rule": rule["name"], "why": rule.get("why", ""), "as": shown[:120], "line": line, "code": code}
        )

    def computed_on(self, node) -> tuple:
        """(the dotted name of ``node`` as written, resolved) when it resolves, else (None, None)."""
        base = _dotted(node)
        full = self.resolver.full(base) if base else None
        return (base, full) if full else (None, None)

    def by_name(self, node, dotted: list) -> bool:
        """A finding for the dotted name or its longest prefix that a rule names."""
        if self.resolver.full(dotted) is None:
            return False
        root = self.resolver.full(dotted[:1])
        for i in range(len(dotted), 0, -1):  # torch._C.DisableTorchFunction, then torch._C, ...
            name = ".".join([root, *dotted[1:i]])
            rule = next((r for r in rules() if _match(name, r.get("names", ()))), None)
            if rule is not None:
                self.add(node, rule, ".".join(dotted[:i]))
                return True
        return False

    def attribute(self, node) -> None:
        for rule in rules():
            if node.attr in rule.get("attributes", ()):
                self.add(node, rule, "." + node.attr)
            elif node.attr == "__dict__":
                base, full = self.computed_on(node.value)
                if full and _match(full, rule.get("computed_getattr_on", ())):
                    self.add(node, rule, ".".join(base) + ".__dict__")
        dotted = _dotted(node)
        if dotted is not None:
            self.by_name(node, dotted)

    def constant(self, node) -> None:
        for rule in rules():  # the name as a string (operator.attrgetter("__wrapped__"), ...)
            if node.value in rule.get("attributes", ()):
                self.add(node, rule, repr(node.value))

    def builtin_call(self, node, names) -> str | None:
        """The name of the built-in among ``names`` that ``node`` calls (not one the file redefines)."""
        f = node.func
        if isinstance(f, ast.Name) and f.id in names and self.resolver.full([f.id]) == f"builtins.{f.id}":
            return f.id
        return None

    def vars_call(self, node) -> None:
        base, full = self.computed_on(node.args[0])
        for rule in rules():
            if full and _match(full, rule.get("computed_getattr_on", ())):
                self.add(node, rule, f"vars({'.'.join(base)})")

    def getattr_call(self, node, func: str) -> None:
        target, key = node.args[0], node.args[1]
        literal = isinstance(key, ast.Constant) and isinstance(key.value, str)
        base, full = (None, None) if literal or func != "getattr" else self.computed_on(target)
        for rule in rules():
            if literal and key.value in rule.get("attributes", ()):
                self.add(node, rule, f'{func}(..., "{key.value}")')
            elif full and _match(full, rule.get("computed_getattr_on", ())):
                self.add(node, rule, f"getattr({'.'.join(base)}, ...)")
        if literal:
            self.by_name(node, [*(_dotted(target) or ["?"]), key.value])

    def node(self, node) -> None:
        if isinstance(node, ast.Attribute):
            self.attribute(node)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            self.by_name(node, [node.id])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) < 40:
            self.constant(node)
        elif isinstance(node, ast.Call):
            if len(node.args) == 1 and self.builtin_call(node, ("vars",)):
                self.vars_call(node)
            func = self.builtin_call(node, GETATTRS) if len(node.args) >= 2 else None
            if func:
                self.getattr_call(node, func)


def _scan_nodes(nodes, resolver: _Resolver, lines: list) -> list:
    scan_ = _Scan(resolver, lines)
    for top in nodes:
        for node in parts.nodes(top):
            scan_.node(node)
    return scan_.found


def scan(path: Path, exercise) -> tuple:
    """(findings, notes) for the exercise's part of the student's file: findings
    [{"rule", "why", "as", "line", "code"}, ...]; notes: what could not be walked."""
    try:
        parsed = forbidden.read(path)
        if parsed is None:
            return [], []
        text, tree = parsed
        found = _scan_nodes(parts.executed(tree, exercise), _Resolver(tree), text.splitlines())
    except (RecursionError, MemoryError) as e:
        why = "an expression is nested too deeply" if isinstance(e, RecursionError) else "it is too large"
        return [], [
            {
                "kind": "unscanned",
                "file": Path(path).name,
                "line": 0,
                "message": f"the integrity scan could not walk {Path(path).name} ({why})",
            }
        ]
    return sorted(found, key=lambda f: f["line"]), []


def review_entries(findings: list, file: str) -> list:
    """The report's "review" entries for integrity findings."""
    return [
        {
            "kind": "integrity",
            "file": file,
            "line": f["line"],
            "rule": f["rule"],
            "message": f"line {f['line']} uses `{f['as']}` ({f['rule']}): `{f['code']}`",
        }
        for f in findings[:10]
    ]


def error(exercise, findings: list, file: str):
    """The StudentError that costs the exercise its points."""
    f = findings[0]
    msg = (
        f"{file}, line {f['line']} uses `{f['as']}` ({f['rule']}): `{f['code']}`; {f['why']}. "
        "This exercise gets no points until an instructor has reviewed it"
    )
    if len(findings) > 1:
        msg += "; also " + ", ".join(f"`{g['as']}` (line {g['line']})" for g in findings[1:6])
    return StudentError(
        ErrorKind.INTEGRITY,
        msg,
        "Remove that code: none of these exercises needs it. If you think it is needed, ask your instructor "
        "(the rules are in the grader's integrity.toml).",
    )


TAMPERED = "the grader's checks were tampered with"


def tampered_error(what: str):
    """The StudentError of an exercise whose worker found the grader's hooks removed or replaced."""
    return StudentError(
        ErrorKind.INTEGRITY,
        f"{TAMPERED} while this exercise ran ({what}). This exercise gets no points until an instructor "
        "has reviewed it",
        "Remove the code that reaches into the grader or into torch's internals: none of these exercises needs it.",
    )


def tampered_review(what: str, file: str) -> list:
    """The report's "review" entry of an exercise whose worker was tampered with."""
    return [{"kind": "integrity", "file": file, "line": 0, "rule": "tampering", "message": f"{TAMPERED} ({what})"}]
