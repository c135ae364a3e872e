"""Which part of a submission file each exercise is judged on (the static scans).

A student may hand in one ``.py`` holding every exercise.  The static scans
(``grader.verdicts.forbidden``, ``grader.verdicts.integrity``) then judge each exercise on its own
part of that file, so that exercise 3's allowed ``torch.logsumexp`` never costs
exercise 2 its points:

* a top-level definition (``def``, ``class``, an assignment) that only the names
  ANOTHER exercise requires reach (through the names they use, transitively) is
  not part of this exercise;
* everything else is: the definitions this exercise requires and what they use,
  imports, helpers nobody requires, code at the top level (and what it uses: a
  definition registered with ``REG.append(f)`` runs wherever the file is loaded);
* ``if __name__ == "__main__":`` blocks never run while grading (the file is loaded
  under its own module name), so no scan counts them, unless the file could rebind
  ``__name__`` (``main_can_run``): then they are scanned like any top-level code.

A file that defines no other exercise's names is judged whole, as before.
Every walk here is iterative (``ast.walk``): a deeply nested expression never
overflows Python's stack.
"""

from __future__ import annotations

import ast
from collections import deque

from grader.course import current


def is_main_guard(node) -> bool:
    """``if __name__ == "__main__":`` (either way round)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    t = node.test
    if len(t.ops) != 1 or not isinstance(t.ops[0], ast.Eq):
        return False
    sides = [t.left, t.comparators[0]]
    return any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides) and any(
        isinstance(s, ast.Constant) and s.value == "__main__" for s in sides
    )


# What could make ``__name__ == "__main__"`` true in a module loaded under another name:
# a name, attribute, imported name or string that reaches the module's namespace or rebinds it.
REBINDS = frozenset(
    {
        "globals",
        "vars",
        "locals",
        "exec",
        "eval",
        "compile",
        "__import__",
        "__builtins__",
        "builtins",
        "setattr",
        "__setattr__",
        "__dict__",
        "__globals__",
        "modules",
        "f_globals",
        "f_locals",
        "_getframe",
        "currentframe",
        "importlib",
        "import_module",
        "runpy",
        "gc",
        "ctypes",
        "__subclasses__",
        "getattr",
        "__main__",
    }
)


def main_can_run(tree) -> bool:
    """Whether an ``if __name__ == "__main__":`` block of ``tree`` might run: ``__name__``
    is bound anywhere (assigned, imported as, a ``def``/``class``/``except``/``global``/
    ``match`` name), or the file uses something that can reach or rebind its namespace
    (``globals()``, ``vars()``, ``exec``, ``sys.modules``, ``setattr``, a frame's
    ``f_globals``, ``getattr`` with a computed name, ...: ``REBINDS``), by name, attribute
    or as a string.  One linear walk: the parent is seen before its children."""
    safe = set()  # the guards' own "__main__" strings; getattr(x, "literal"), which reaches no namespace
    for node in nodes(tree):
        if is_main_guard(node):
            safe.add(id(node.test.left))
            safe.add(id(node.test.comparators[0]))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            safe.add(id(node.func))
        if _rebinds(node, safe):
            return True
    return False


def _rebinds(node, safe: set) -> bool:
    if isinstance(node, ast.Name):
        return (node.id == "__name__" and not isinstance(node.ctx, ast.Load)) or (
            node.id in REBINDS and id(node) not in safe
        )
    if isinstance(node, ast.Attribute):
        return node.attr in REBINDS or node.attr == "__name__" and not isinstance(node.ctx, ast.Load)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return id(node) not in safe and node.value in REBINDS | {"__name__"}
    if isinstance(node, ast.alias):
        return "__name__" in (node.name, node.asname) or node.name.split(".")[0] in REBINDS
    if isinstance(node, (ast.Global, ast.Nonlocal)):
        return "__name__" in node.names
    field = _BINDING_FIELD.get(type(node))
    return field is not None and getattr(node, field, None) == "__name__"


# the field holding the name a node binds (def NAME, except E as NAME, case {**NAME})
_BINDING_FIELD = {
    ast.FunctionDef: "name",
    ast.AsyncFunctionDef: "name",
    ast.ClassDef: "name",
    ast.ExceptHandler: "name",
    ast.MatchAs: "name",
    ast.MatchStar: "name",
    ast.MatchMapping: "rest",
}


def _targets(node) -> set:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    targets = []
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        targets = [node.target]
    names = set()
    for t in targets:
        if type(t) is ast.Name:
            names.add(t.id)
        else:
            names |= _used(t)
    return names


def nodes(node):
    """Every node below ``node`` (itself included) in ``ast.walk``'s order, without its two
    generators per node: the scans walk a file of up to 1 MiB several times."""
    todo = deque([node])
    pop, push, grow, AST = todo.popleft, todo.append, todo.extend, ast.AST
    while todo:
        n = pop()
        for field in n._fields:
            v = getattr(n, field, None)
            if isinstance(v, AST):
                push(v)
            elif isinstance(v, list):
                grow([x for x in v if isinstance(x, AST)])
        yield n


def _used(node) -> set:
    return {n.id for n in nodes(node) if type(n) is ast.Name}


def _index(body) -> dict:
    defines: dict = {}
    for i, node in enumerate(body):
        for name in _targets(node):
            defines.setdefault(name, []).append(i)
    return defines


def _reach(body, defines: dict, names, used: dict) -> set:
    """Indices of the top-level statements that define ``names`` and what they use, transitively.
    Each name is followed once and each statement read once, so the walk is linear in the
    file's size (150,000 lines of ``x = 1`` each define and use ``x``: one visit of ``x``)."""
    seen: set = set()
    followed: set = set()
    todo = deque(names)
    while todo:
        name = todo.popleft()
        if name in followed:
            continue
        followed.add(name)
        for i in defines.get(name, ()):
            if i in seen:
                continue
            seen.add(i)
            if i not in used:
                used[i] = _used(body[i])
            todo.extend(n for n in used[i] if n not in followed)
    return seen


def _roots(body, exercise, skip) -> set:
    """The exercise's names, and those used by top-level code that defines nothing (``REG.append(f)``)."""
    roots = set(exercise.names)
    for node in body:
        if not _targets(node) and not isinstance(node, (ast.Import, ast.ImportFrom)) and not skip(node):
            roots |= _used(node)
    return roots


def split(tree, exercise) -> tuple:
    """(the top-level statements of ``exercise``'s part, the ``__main__`` blocks that cannot run)."""
    body = list(tree.body)
    skip = (lambda node: False) if main_can_run(tree) else is_main_guard  # a block that can run is code
    defines, used = _index(body), {}
    others = [ex for ex in current().exercises if ex.name != exercise.name and any(n in defines for n in ex.names)]
    excluded: set = set()
    if others:
        # what runs on import and defines nothing (REG.append(f)) belongs to every part, and so does what it uses
        mine = _reach(body, defines, _roots(body, exercise, skip), used)
        for ex in others:
            excluded |= _reach(body, defines, ex.names, used)
        excluded -= mine
    keep = [n for i, n in enumerate(body) if i not in excluded and not skip(n)]
    return keep, [n for n in body if skip(n)]


DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _at_import(node) -> list:
    """What of a definition runs when the file is imported: a function's decorators and
    default values; a class's decorators, bases and body (its methods' likewise)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        a = node.args
        return [*node.decorator_list, *a.defaults, *(d for d in a.kw_defaults if d is not None)]
    if isinstance(node, ast.ClassDef):
        out = [*node.decorator_list, *node.bases, *node.keywords]
        for stmt in node.body:
            out += _at_import(stmt) if isinstance(stmt, DEFS) else [stmt]
        return out
    return [node]


def executed(tree, exercise) -> list:
    """The code of ``exercise``'s part that can run while it is graded: the definitions
    it requires and what they use, and what runs on import (top-level statements, the
    decorators, default values and class bodies of every definition, and what those
    use). A helper that nothing calls is not in it: it never runs."""
    keep, _main = split(tree, exercise)
    body = list(keep)
    defines, used = _index(body), {}
    start = set(exercise.names)
    for i, node in enumerate(body):
        pieces = _at_import(node)
        if pieces == [node]:  # a plain statement: what it uses is read once, here
            used[i] = _used(node)
            start |= used[i]
        else:
            for p in pieces:
                start |= _used(p)
    reached = _reach(body, defines, start, used)
    out = [body[i] for i in sorted(reached)]
    out += [p for i, node in enumerate(body) if i not in reached for p in _at_import(node)]
    return out
