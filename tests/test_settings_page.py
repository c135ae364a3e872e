"""Every environment variable the grader reads is declared once (grader/settings.py), read through
its declaration, and on the settings page, whose tables are generated from the declarations."""

import ast
import re
import sys

from grader import settings
from tests.conftest import ROOT

VARIABLE = re.compile(r"(?<![A-Z_])(?:GRADER|AUTOGRADER|NNGRADE)_[A-Z_]+")
# names in the code that are not environment variables
NOT_VARIABLES = {
    "AUTOGRADER_EPILOG",  # a constant's name
    "NNGRADE_PICK",
}  # a shell here-document's delimiter (grader/formats/workflows.py)
PAGE = ROOT / "docs" / "reference" / "settings.md"
SETTINGS_MODULE = ROOT / "grader" / "settings.py"


def _sources():
    return sorted((ROOT / "grader").rglob("*.py"))


def test_every_variable_the_code_names_is_declared():
    used = {m for p in _sources() for m in VARIABLE.findall(p.read_text(encoding="utf-8"))} - NOT_VARIABLES
    assert sorted(used - set(settings.BY_NAME)) == []
    assert len(settings.BY_NAME) == len(settings.SETTINGS)  # each declared once


def names_used_as_keys(source: str) -> list:
    """The declared variables that ``source`` names as a whole string (a key it reads or sets,
    ``os.environ.get("GRADER_PIN")``), not within a sentence."""
    return sorted(
        node.value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in settings.BY_NAME
    )


def test_the_code_reads_a_setting_only_through_its_declaration():
    found = {
        str(p.relative_to(ROOT)): names_used_as_keys(p.read_text(encoding="utf-8"))
        for p in _sources()
        if p != SETTINGS_MODULE
    }
    assert {p: names for p, names in found.items() if names} == {}


def test_the_scan_catches_a_variable_read_by_name():
    assert names_used_as_keys('import os\nidle = float(os.environ.get("GRADER_SERVER_IDLE", 900))\n') == [
        "GRADER_SERVER_IDLE"
    ]
    assert names_used_as_keys('ENV = ("PATH", "GRADER_CGROUP")\nenv["GRADER_ZYGOTE_PRELOAD"] = "1"\n') == [
        "GRADER_CGROUP",
        "GRADER_ZYGOTE_PRELOAD",
    ]
    assert names_used_as_keys('HELP = "GRADER_NO_SERVER=1 turns it off"\n') == []  # words, not a read


def _render(markdown: str) -> str:
    sys.path.insert(0, str(ROOT / "docs" / "hooks"))
    try:
        import settings_reference
    finally:
        sys.path.remove(str(ROOT / "docs" / "hooks"))
    return settings_reference.render(markdown)


def test_the_page_is_generated_from_the_declarations():
    page = PAGE.read_text(encoding="utf-8")
    # one generated table per audience, and no variable's row written by hand
    assert re.findall(r"<!-- grader-settings (\w+) -->", page) == list(settings.AUDIENCES)
    assert re.findall(r"^\| `[A-Z_]+` \|", page, re.M) == []
    rendered = _render(page)
    for s in settings.SETTINGS:
        assert len(re.findall(rf"^\| `{s.name}` \|.*{re.escape(s.help)}", rendered, re.M)) == 1, s.name
    assert "grade config" in page


def test_a_default_and_the_option_that_wins_are_in_the_table():
    table = settings.table(settings.EVERYONE)
    assert "| `GRADER_SERVER_IDLE` | `900` |" in table
    assert "(`--hint-level` wins)" in table
    assert "Instructor's edition only" in settings.table(settings.INSTRUCTORS)
