"""The architecture page's module table names every module of the grader, so a newcomer finds
the tolerance of softmax, the points of a test, a hint, the forbidden built-ins from the tree."""

import re

from tests.conftest import ROOT


def _layout() -> str:
    text = (ROOT / "docs" / "internals" / "architecture.md").read_text()
    start = text.index("\n## Every module\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_every_module_is_in_the_layout_table():
    layout = _layout()
    named = set(re.findall(r"`(grader/[\w/]+\.(?:py|toml))`", layout))
    modules = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "grader").rglob("*.py")
        if "__pycache__" not in p.parts and p.name != "__init__.py"
    } | {str(p.relative_to(ROOT)) for p in (ROOT / "grader").rglob("*.toml")}
    assert modules - named == set(), "modules missing from docs/internals/architecture.md"
    assert named - modules == set(), "docs/internals/architecture.md names modules that do not exist"
