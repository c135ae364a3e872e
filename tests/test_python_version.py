"""What Python the grader needs is stated truthfully (issue 9, item 8): pyproject's
requires-python, the README and the code agree, and the tests run on it."""
from __future__ import annotations

import ast
import re
import sys
import tomllib

from tests.conftest import ROOT


def _minimum() -> tuple:
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    m = re.fullmatch(r">=\s*(\d+)\.(\d+)", spec.strip())
    assert m, f"requires-python should be a plain lower bound, not {spec!r}"
    return int(m.group(1)), int(m.group(2))


def test_requires_python_is_what_the_readme_says_and_what_runs_the_tests():
    major, minor = _minimum()
    assert (major, minor) >= (3, 11), "the grader uses tomllib (3.11) and `X | None` at run time"
    assert sys.version_info[:2] >= (major, minor)
    readme = (ROOT / "README.md").read_text()
    assert f"Python {major}.{minor} or newer" in readme
    assert "3.9 or newer" not in readme


def test_every_source_file_parses_as_the_oldest_supported_python():
    version = _minimum()
    for folder in ("grader", "reference", "solutions", "exercises", "tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            ast.parse(path.read_text(encoding="utf-8"), str(path), feature_version=version)
