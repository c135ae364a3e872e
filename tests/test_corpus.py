"""The known-bug corpus: every classic mistake loses points and is named.

``tests/corpus/exerciseN/`` holds whole submission files for one exercise:

- ``bug_<mistake>.py`` is a plausible student answer with one known mistake.
  Its first line is ``# hint: <regex>``: the submission must lose points on
  its exercise, and some failed test's hint (or, failing that, message) must
  match the regex (case-insensitive), so the student is told the mistake by
  name and not just that something is off; no failed test's hint is blank.
- ``ok_<style>.py`` is a correct answer written differently from the model
  answer (logsumexp, clamp, add_module, ...): it must get full marks.

Each file is graded alone, with only that exercise, as ``grade exerciseN``
would grade it.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from grader.exercises import lookup

CORPUS = Path(__file__).resolve().parent / "corpus"


def _entries(prefix: str) -> list:
    # a list, not a generator: pytest 9.1 deprecates parametrizing with a non-Collection iterable
    return [pytest.param(path, id=f"{path.parent.name}/{path.stem}")
            for path in sorted(CORPUS.glob(f"exercise*/{prefix}_*.py"))]


def _graded(path: Path, tmp_path: Path, grade_folder) -> dict:
    ex = lookup(path.parent.name)
    shutil.copyfile(path, tmp_path / ex.file)
    report = grade_folder(tmp_path, ex.name)
    (entry,) = report["exercises"]
    return entry


def _lost(entry) -> list:
    return [t for t in entry["tests"] if t["status"] not in ("passed", "skipped")]


def _no_blank_hint(entry) -> None:
    """Every lost point is explained: no failed test's hint is empty or only whitespace."""
    blank = [t["name"] for t in _lost(entry) if not (t["hint"] or "").strip()]
    assert not blank, f"blank hints in {blank}"


def expected_hint(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    m = re.fullmatch(r"#\s*hint:\s*(.+)", first.strip())
    assert m, f"{path.name} must start with '# hint: <regex>'"
    return m.group(1)


@pytest.mark.slow
@pytest.mark.parametrize("path", _entries("bug"))
def test_known_bug_loses_points_and_is_named(path, tmp_path, grade_folder):
    pattern = re.compile(expected_hint(path), re.I)
    entry = _graded(path, tmp_path, grade_folder)
    lost = _lost(entry)
    assert entry["score"] < entry["max_score"] and lost, f"{path.name} got full marks"
    _no_blank_hint(entry)
    said = [t["hint"] or t["message"] for t in lost] + [entry["hint"]]
    assert any(pattern.search(text or "") for text in said), \
        f"no hint matches {pattern.pattern!r}; the report said:\n" + "\n---\n".join(sorted(set(said)))


@pytest.mark.slow
@pytest.mark.parametrize("path", _entries("ok"))
def test_correct_alternative_gets_full_marks(path, tmp_path, grade_folder):
    entry = _graded(path, tmp_path, grade_folder)
    lost = [(t["name"], t["message"]) for t in _lost(entry)]
    _no_blank_hint(entry)
    assert entry["score"] == entry["max_score"], lost


def test_corpus_is_large_enough():
    """At least four known bugs and two correct alternatives per exercise, 40 bugs in all."""
    from grader.exercises import EXERCISES

    for ex in EXERCISES:
        folder = CORPUS / ex.name
        assert len(list(folder.glob("bug_*.py"))) >= 4, ex.name
        assert len(list(folder.glob("ok_*.py"))) >= 2, ex.name
    assert len(list(CORPUS.glob("exercise*/bug_*.py"))) >= 40
