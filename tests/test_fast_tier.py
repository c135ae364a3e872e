"""The fast tier a developer runs while editing (``python -m pytest -m "not slow"``,
docs/internals/testing.md): the ``slow`` marker is registered and strict, a test left in the fast
tier cannot start what takes seconds (tests/tier.py), every test module keeps a fast test or says
why it is slow as a whole, and tests/<folder>/ holds the tests of grader/<folder>/."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests import tier
from tests.conftest import ROOT, run_cli

TESTS = ROOT / "tests"
WHOLLY_SLOW = "# Slow by design"  # the comment above a module's `pytestmark = pytest.mark.slow`


def _ini() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]


def _is_slow_mark(node: ast.expr) -> bool:
    if isinstance(node, (ast.List, ast.Tuple)):
        return any(_is_slow_mark(e) for e in node.elts)
    return ast.unparse(node) == "pytest.mark.slow"


def _tiers(path) -> tuple[bool, list, list]:
    """(slow as a whole with the comment that says why, its fast tests, its slow tests)."""
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text)
    lines = text.splitlines()
    whole = False
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [ast.unparse(t) for t in node.targets] == ["pytestmark"]
            and _is_slow_mark(node.value)
        ):
            above = [line for line in lines[: node.lineno - 1] if line.startswith("#")]
            whole = any(line.startswith(WHOLLY_SLOW) for line in above[-4:])
            assert whole, f"{path.relative_to(ROOT)}: say why the whole module is slow ({WHOLLY_SLOW}: ...)"
    fast, slow = [], []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            (slow if whole or any(_is_slow_mark(d) for d in node.decorator_list) else fast).append(node.name)
    return whole, fast, slow


def test_the_marker_is_registered_and_a_misspelt_one_is_an_error():
    ini = _ini()
    assert any(m.startswith("slow:") for m in ini["markers"])
    assert "--strict-markers" in ini["addopts"].split()


def test_every_test_module_keeps_a_fast_test_or_says_why_it_is_slow():
    counts = {"fast": 0, "slow": 0}
    for path in sorted(TESTS.rglob("test_*.py")):
        whole, fast, slow = _tiers(path)
        assert whole or fast, f"{path.relative_to(ROOT)}: every test is slow; keep a fast one or mark the module"
        counts["fast"] += len(fast)
        counts["slow"] += len(slow)
    assert counts["fast"] > 0 and counts["slow"] > 0, counts


def test_each_folder_of_tests_is_a_package_of_the_grader_with_fast_tests():
    """tests/<folder>/ tests grader/<folder>/, and each such folder keeps fast tests;
    grader/suites/ is tested end to end (tests/test_full_marks.py, tests/test_corpus.py)."""
    folders = sorted(p for p in TESTS.iterdir() if p.is_dir() and any(p.glob("test_*.py")))
    packages = {p.name for p in (ROOT / "grader").iterdir() if (p / "__init__.py").is_file()}
    assert {f.name for f in folders} == packages - {"suites"}, "a package of grader/ needs tests/<package>/"
    for folder in folders:
        assert any(_tiers(p)[1] for p in folder.glob("test_*.py")), f"tests/{folder.name}/ has no fast test"


def test_a_fast_test_cannot_start_a_cold_grade_a_venv_or_an_install(tmp_path):
    assert tier.STATE["fast"] and tier.STATE["test"].endswith(sys._getframe().f_code.co_name)
    for argv in (
        [sys.executable, "-m", "grader.cli", "all"],
        [sys.executable, "-m", "venv", str(tmp_path / "v")],
        [sys.executable, "-m", "pip", "install", "nngrade"],
    ):
        with pytest.raises(tier.SlowInFastTier, match="is not marked slow"):
            subprocess.run(argv, cwd=ROOT, capture_output=True)
    # run_cli lets a `grade` start, and stops it (failing the test) once it imports torch
    with pytest.raises(pytest.fail.Exception, match="imports torch"):
        run_cli("exercise1", "--submission", ROOT / "solutions", "--no-server")
    assert not (tmp_path / "v").exists()


def test_help_and_usage_errors_stay_in_the_fast_tier():
    r = run_cli("--help")
    assert r.returncode == 0 and "grade exercise3" in r.stdout
    r = run_cli("exercise42")
    assert r.returncode == 2 and "no exercise called 'exercise42'" in r.stderr
    assert "import time:" not in r.stderr


@pytest.mark.slow
def test_a_slow_test_may_start_a_cold_grade():
    assert not tier.STATE["fast"]
    r = run_cli("exercise1", "--submission", ROOT / "exercises", "--no-server")
    assert r.returncode == 1 and "Total: 0.00 / 10" in r.stdout
