"""The settings page names every environment variable the grader reads."""
import re

from tests.conftest import ROOT

VARIABLE = re.compile(r"(?<![A-Z_])(?:GRADER|AUTOGRADER)_[A-Z_]+")


def test_every_variable_the_code_reads_is_on_the_settings_page():
    page = (ROOT / "docs" / "reference" / "settings.md").read_text()
    used = {m for p in (ROOT / "grader").rglob("*.py") for m in VARIABLE.findall(p.read_text(encoding="utf-8"))}
    used -= {"AUTOGRADER_EPILOG"}  # a constant's name, not a variable
    missing = sorted(v for v in used if f"`{v}`" not in page)
    assert missing == [], f"docs/reference/settings.md does not name {missing}"
