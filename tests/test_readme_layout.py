"""The README's Layout table names every module of the grader (issue 11: a newcomer finds
the tolerance of softmax, the points of a test, a hint, the forbidden built-ins from the tree)."""
import re

from tests.conftest import ROOT


def _layout() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Layout\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end != -1 else None]


def test_every_module_is_in_the_layout_table():
    layout = _layout()
    named = set(re.findall(r"`(grader/[\w/]+\.(?:py|toml))`", layout))
    modules = {str(p.relative_to(ROOT)) for p in (ROOT / "grader").rglob("*.py")
               if "__pycache__" not in p.parts and p.name != "__init__.py"} | {
        str(p.relative_to(ROOT)) for p in (ROOT / "grader").rglob("*.toml")}
    assert modules - named == set(), "modules missing from README's Layout"
    assert named - modules == set(), "README's Layout names modules that do not exist"
