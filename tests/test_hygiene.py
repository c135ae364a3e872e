"""The tree reads on its own: comments and docstrings say what a test or a module checks,
never which tracker entry asked for it (a number means nothing to the next reader)."""

import re

from tests.conftest import ROOT

TRACKER = re.compile(r"\bissues? \d+\b", re.I)


def test_no_comment_cites_an_issue_number():
    cited = []
    for folder in ("grader", "tests", "bench"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "corpus" in path.parts:
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if TRACKER.search(line):
                    cited.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert cited == [], "\n".join(cited)
