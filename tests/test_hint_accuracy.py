"""Over the whole corpus, the first hint of at least nine failing reports in ten names the mistake
(bench/hint_accuracy.py prints the same figure; docs/internals/hint-accuracy.md records it)."""

import sys
from pathlib import Path

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import hint_accuracy  # noqa: E402


def test_first_hint_of_a_failing_report_reads_as_the_file_says():
    entry = {
        "tests": [
            {"status": "passed", "hint": ""},
            {"status": "failed", "hint": "exp() overflowed"},
            {"status": "failed", "hint": "other"},
        ],
        "hint": "",
        "score": 1,
        "max_score": 10,
    }
    path = ROOT / "tests" / "corpus" / "exercise1" / "bug_no_max_subtraction.py"
    row = hint_accuracy.evaluate(path, entry)
    assert hint_accuracy.first_hint(entry) == "exp() overflowed" and row["blank"] == 0
    entry["tests"][1]["hint"] = "  "
    assert hint_accuracy.evaluate(path, entry)["blank"] == 1 and not hint_accuracy.evaluate(path, entry)["named"]


@pytest.mark.slow
def test_nine_in_ten_failing_reports_name_the_mistake_first(grade_folder, tmp_path):
    import shutil

    from grader.exercises import lookup

    rows = []
    for path in sorted(hint_accuracy.CORPUS.glob("exercise*/bug_*.py")):
        ex = lookup(path.parent.name)
        folder = tmp_path / f"{path.parent.name}-{path.stem}"
        folder.mkdir()
        shutil.copyfile(path, folder / ex.file)
        (entry,) = grade_folder(folder, ex.name)["exercises"]
        rows.append(hint_accuracy.evaluate(Path(path), entry))
    failing = [r for r in rows if r["failed"]]
    named = [r for r in failing if r["named"]]
    assert len(named) >= 0.9 * len(failing), [r["file"] for r in failing if not r["named"]]
    assert not any(r["blank"] for r in rows)
