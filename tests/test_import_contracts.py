"""The import rules, stated as import-linter contracts in pyproject.toml ([tool.importlinter]).

`lint-imports` keeps them (the worker side imports nothing else of the grader; the grader's
side in layers; the commands independent); the worker side's contract names every other
module of grader, so that a module added later is forbidden to the worker from its first day;
and the contracts catch imports planted against each of them.
"""

import shutil
import subprocess
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKER_SIDE = {"grader.untrusted", "grader.wire", "grader.errors", "grader.settings"}

pytest.importorskip("importlinter", reason="pip install -e '.[dev]' (import-linter)")


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]


def _contract(cid: str) -> dict:
    return next(c for c in _config()["contracts"] if c["id"] == cid)


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` on the tree at ``root`` (its grader and reference packages, its pyproject)."""
    code = (
        "import sys\nfrom importlinter.cli import lint_imports\n"
        "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True, no_logo=True))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "HOME": str(root), "LANG": "C.UTF-8"}
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_contracts_are_kept():
    r = lint_imports(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


def test_the_worker_side_is_forbidden_every_other_module_of_the_grader():
    tops = {f"grader.{p.stem}" for p in (ROOT / "grader").glob("*.py") if p.stem != "__init__"}
    tops |= {f"grader.{p.parent.name}" for p in (ROOT / "grader").glob("*/__init__.py")}
    contract = _contract("worker-side")
    assert set(contract["source_modules"]) == WORKER_SIDE
    assert set(contract["forbidden_modules"]) == (tops - WORKER_SIDE) | {"reference"}


def test_every_package_of_the_grader_has_its_layer():
    packages = {f"grader.{p.parent.name}" for p in (ROOT / "grader").glob("*/__init__.py")}
    layered = {m.strip() for layer in _contract("layers")["layers"] for m in layer.split("|")}
    assert packages - layered == set()


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tree")
    for name in ("grader", "reference"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(
    "module, planted, broken",
    [
        # the worker side reaching for a verdict, the answers, the grader's side of the wire
        (
            "grader/wire/sizes.py",
            "from grader.verdicts import forbidden",
            "grader.wire is not allowed to import grader.verdicts",
        ),
        ("grader/untrusted/detector.py", "import reference", "grader.untrusted is not allowed to import reference"),
        (
            "grader/errors.py",
            "from grader.transport import limits",
            "grader.errors is not allowed to import grader.transport",
        ),
        # the transport reading the verdicts or the report's text rules (the layers)
        (
            "grader/transport/session.py",
            "from grader.verdicts import integrity",
            "grader.transport is not allowed to import grader.verdicts",
        ),
        (
            "grader/transport/explain.py",
            "from grader.feedback import textsafe",
            "grader.transport is not allowed to import grader.feedback",
        ),
        # a command importing the front end, one command another
        (
            "grader/commands/grade_here.py",
            "from grader.cli import main",
            "grader.commands is not allowed to import grader.cli",
        ),
        (
            "grader/commands/release.py",
            "from grader.commands import classroom",
            "grader.commands.release is not allowed to import grader.commands.classroom",
        ),
    ],
)
def test_the_contracts_catch_a_planted_import(copy, module, planted, broken):
    path = copy / module
    text = path.read_text(encoding="utf-8")
    path.write_text(text + f"\n\ndef _planted():\n    {planted}\n", encoding="utf-8")
    try:
        r = lint_imports(copy)
    finally:
        path.write_text(text, encoding="utf-8")
    assert r.returncode != 0, r.stdout
    assert broken in r.stdout, r.stdout
