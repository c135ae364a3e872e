"""The reports saved before the redesign (tests/golden, made by bench/golden_reports.py)
are what `grade` still writes, byte for byte: here for the model answers, the stubs and one
corpus submission per exercise at seed 0 (the whole set, both seeds:
`python bench/golden_reports.py compare tests/golden`)."""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import golden_reports  # noqa: E402

SAVED = json.loads((ROOT / "tests" / "golden" / "reports-seed0.json").read_text())
SAMPLE = ["solutions", "stubs"] + [min(n for n in SAVED if n.startswith(f"exercise{i}/bug_")) for i in range(1, 10)]


def test_the_sample_covers_every_exercise():
    assert len(SAMPLE) == 11 and all(n in SAVED for n in SAMPLE)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_reports_byte_for_byte_as_saved(fmt, tmp_path):
    cases = {name: (which, files) for name, which, files in golden_reports.cases()}
    changed = []
    for name in SAMPLE:
        which, files = cases[name]
        got = golden_reports.report(which, files, 0, fmt, tmp_path)
        if got != SAVED[name][fmt]:
            changed.append(name)
    assert not changed, f"reports changed: {changed} (see: python bench/golden_reports.py compare tests/golden)"
