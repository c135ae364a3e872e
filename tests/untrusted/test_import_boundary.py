"""The student side imports nothing of the grader's verdicts, pytest glue, suites or answers.

(a) statically: every import (top level or inside a function) of grader/untrusted/*.py and of
the wire (grader/wire/*.py) names the standard library, torch, orjson (the
wire's JSON codec, a declared dependency) or one of the course modules a worker is built from;
(b) dynamically: a fresh interpreter that imports every module of grader.untrusted and grader.wire holds none of
the grader's own packages; (c) the checker catches a planted import.
"""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STUDENT_SIDE = sorted((ROOT / "grader" / "untrusted").glob("*.py")) + sorted((ROOT / "grader" / "wire").glob("*.py"))
THIRD_PARTY = {"torch", "orjson"}
# the course's modules the worker side may import (written out here, not taken from the code under test)
COURSE_ALLOWED = {"grader", "grader.errors", "grader.settings"}
COURSE_ALLOWED_PACKAGES = ("grader.untrusted", "grader.wire")
GRADER_ONLY = (
    "grader.transport",
    "grader.verdicts",
    "grader.harness",
    "grader.suites",
    "grader.feedback",
    "grader.batch",
    "grader.formats",
    "grader.commands",
    "reference",
    "solutions",
)


def _module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _is_module(name: str) -> bool:
    """Whether ``name`` (of the course) is a module or package in this checkout."""
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imported_modules(source: str, module: str) -> set:
    """Every module that ``source`` (the text of ``module``) imports, anywhere in it; for
    ``from package import name``, ``package.name`` too where that is a module."""
    names = set()
    package = module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            names.add(base)
            names.update(f"{base}.{a.name}" for a in node.names if _is_module(f"{base}.{a.name}"))
    return names


def allowed(name: str) -> bool:
    top = name.split(".")[0]
    if top in sys.stdlib_module_names or top in THIRD_PARTY:
        return True
    return name in COURSE_ALLOWED or any(name == p or name.startswith(p + ".") for p in COURSE_ALLOWED_PACKAGES)


def violations(source: str, module: str) -> list:
    return sorted(n for n in imported_modules(source, module) if not allowed(n))


@pytest.mark.parametrize("path", STUDENT_SIDE, ids=lambda p: p.name)
def test_student_side_imports_only_what_is_allowed(path):
    assert violations(path.read_text(encoding="utf-8"), _module_of(path)) == []


def test_checker_catches_a_planted_import():
    planted = "import os\nimport torch\n\ndef f():\n    from grader.verdicts import checks\n    return checks\n"
    assert violations(planted, "grader.untrusted.worker") == ["grader.verdicts", "grader.verdicts.checks"]
    assert violations("from ..harness import run\n", "grader.untrusted.worker") == [
        "grader.harness",
        "grader.harness.run",
    ]
    assert violations("import numpy, reference\nfrom grader.transport import student\n", "grader.untrusted.x") == [
        "grader.transport",
        "grader.transport.student",
        "numpy",
        "reference",
    ]
    assert violations("from . import isolation\nfrom grader.wire import codec\n", "grader.untrusted.x") == []


def test_the_code_and_this_test_agree_on_what_a_worker_may_import():
    from grader.untrusted.boundary import worker_may_import

    for name in (*COURSE_ALLOWED, "grader.untrusted.worker", "torch.nn", "json"):
        assert worker_may_import(name), name
    for name in (*GRADER_ONLY, "grader.verdicts.checks", "grader.transport.student", "grader.cli"):
        assert not worker_may_import(name), name


def test_a_fresh_worker_process_holds_none_of_the_graders_packages():
    modules = [_module_of(p) for p in STUDENT_SIDE]
    code = (
        "import importlib, json, sys\nimport torch  # as the zygote does\n"
        f"for m in {modules!r}:\n    importlib.import_module(m)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    loaded = json.loads(r.stdout)
    assert "grader.untrusted.worker" in loaded and "torch" in loaded
    leaked = [m for m in loaded if any(m == p or m.startswith(p + ".") for p in GRADER_ONLY)]
    assert leaked == []
    assert [m for m in loaded if m.startswith("grader.") and not allowed(m)] == []
