"""Which of the grader's modules the student edition ships: those its entry points reach.

The student edition's entry points are ``grade`` (``grader.cli``), ``%load_ext grader``
(the package itself) and its student suites (``grader.verdicts.student_check``, with the
suites' shared ``grader.suites.common``).  Every module they import, at the top or inside a
function, and every module named by a string (``python -m grader.untrusted.worker``), is
followed, except into the instructor's side (``INSTRUCTOR_SIDE``): the student edition's
``grade`` refuses those verbs and formats before it imports anything of them.  What is not
reached stays behind (the hidden suites, this builder, grading a class).
"""

from __future__ import annotations

import ast
from pathlib import Path

GRADER = Path(__file__).resolve().parents[1]

STUDENT_ENTRY_POINTS = ("grader", "grader.cli", "grader.verdicts.student_check", "grader.suites.common")

# grading a class (batch, cluster), building the release and deriving its data (it runs the references),
# Gradescope's autograder and runner, GitHub Classroom's workflows and deadline grading, the platforms' grade files, Canvas' gradebook
INSTRUCTOR_SIDE = (
    "grader.batch",
    "grader.commands.release",
    "grader.commands.release_docs",
    "grader.harness.released",
    "grader.commands.release_modules",
    "grader.commands.classroom",
    "grader.formats.autograder",
    "grader.formats.commands",
    "grader.formats.gradescope",
    "grader.formats.prairielearn",
    "grader.formats.canvas",
    "grader.formats.workflows",
)


def instructor_side(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in INSTRUCTOR_SIDE)


def modules(root: Path = GRADER) -> dict[str, Path]:
    """{dotted name: file} of every module of the grader package at ``root``."""
    out = {}
    for p in sorted(root.rglob("*.py")):
        if "__pycache__" in p.parts:
            continue
        parts = ("grader",) + p.relative_to(root).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


def imported(name: str, path: Path) -> list[tuple[str, str]]:
    """[(module, the function it is imported in, or "")] of what module ``name`` imports or names
    in a string: absolute and relative imports, ``from package import module`` too."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(node, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else where
            if isinstance(child, ast.Import):
                found.extend((a.name, where) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join(up + ([base] if base else []))
                found.append((base, where))
                found.extend((f"{base}.{a.name}", where) for a in child.names)
            elif isinstance(child, ast.Constant) and isinstance(child.value, str) and child.value.startswith("grader."):
                found.append((child.value, where))
            visit(child, inner)

    visit(tree, "")
    return found


def shipped(root: Path = GRADER) -> dict[str, Path]:
    """{dotted name: file} of the modules the student edition's entry points reach (their
    packages' ``__init__`` included), never following into the instructor's side."""
    every = modules(root)
    reached: dict[str, Path] = {}
    todo = list(STUDENT_ENTRY_POINTS)
    while todo:
        name = todo.pop()
        if name in reached or name not in every or instructor_side(name):
            continue
        reached[name] = every[name]
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        todo.extend(m for m, _where in imported(name, every[name]))
    return dict(sorted(reached.items()))


def data_files(root: Path = GRADER) -> list[Path]:
    """The files besides modules (templates, tables, pytest.ini) of the packages that ship."""
    every, ships = modules(root), shipped(root)
    out = []
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.suffix in (".py", ".pyc") or "__pycache__" in p.parts:
            continue
        parts = ("grader",) + p.relative_to(root).parent.parts
        package = next(".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in every)
        if package in ships:
            out.append(p)
    return out
