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

import shutil
from pathlib import Path

import pytest

from grader.exercises import lookup

CORPUS = Path(__file__).resolve().parent / "corpus"


def _entries(prefix: str) -> list:
    # a list, not a generator: pytest 9.1 deprecates parametrizing with a non-Collection iterable
    return [
        pytest.param(path, id=f"{path.parent.name}/{path.stem}")
        for path in sorted(CORPUS.glob(f"exercise*/{prefix}_*.py"))
    ]


def _graded(path: Path, tmp_path: Path, grade_folder) -> dict:
    ex = lookup(path.parent.name)
    shutil.copyfile(path, tmp_path / ex.file)
    report = grade_folder(tmp_path, ex.name)
    (entry,) = report["exercises"]
    return entry


def _judged(path: Path, tmp_path: Path, grade_folder) -> str | None:
    """What is wrong with the verdict on one corpus file, by the rule grade check-course applies to a
    course's mistakes folder (grader.commands.authoring.judge_mistake), or None."""
    from grader.commands.authoring import HINT_LINE, judge_mistake

    m = HINT_LINE.fullmatch(path.read_text().splitlines()[0].strip())
    return judge_mistake(_graded(path, tmp_path, grade_folder), path, m.group(1) if m else None)


@pytest.mark.slow
@pytest.mark.parametrize("path", _entries("bug"))
def test_known_bug_loses_points_and_is_named(path, tmp_path, grade_folder):
    problem = _judged(path, tmp_path, grade_folder)
    assert problem is None, problem


@pytest.mark.slow
@pytest.mark.parametrize("path", _entries("ok"))
def test_correct_alternative_gets_full_marks(path, tmp_path, grade_folder):
    problem = _judged(path, tmp_path, grade_folder)
    assert problem is None, problem


def test_the_built_in_course_finds_its_corpus():
    """grade check-course grades the corpus as the built-in course's mistakes folders."""
    from grader.commands.authoring import mistakes
    from grader.course import builtin

    course = builtin()
    for ex in course.exercises:
        assert {p for p, _ in mistakes(course, ex)} == set((CORPUS / ex.name).glob("*.py"))


def test_corpus_is_large_enough():
    """At least four known bugs and two correct alternatives per exercise, 40 bugs in all."""
    from grader.exercises import EXERCISES

    for ex in EXERCISES:
        folder = CORPUS / ex.name
        assert len(list(folder.glob("bug_*.py"))) >= 4, ex.name
        assert len(list(folder.glob("ok_*.py"))) >= 2, ex.name
    assert len(list(CORPUS.glob("exercise*/bug_*.py"))) >= 40
