"""Hint levels: the course chooses whether a hint names the concept only or also shows the fix
(GRADER_HINT_LEVEL, --hint-level on grade, grade batch, grade autograder and grade release).
Both levels are checked on every catalogued mistake."""

from __future__ import annotations

import importlib
import json
import zipfile

import pytest
from conftest import ROOT, run_cli

from grader.exercises import EXERCISES


def _catalogue() -> list:
    """Every Misconception the hidden suites declare (module-level names)."""
    from grader.verdicts.diagnosis import Misconception

    found = {}
    names = [f"grader.suites.{ex.suite.removesuffix('.py')}" for ex in EXERCISES] + ["grader.suites.epoch_mistakes"]
    for name in names:
        module = importlib.import_module(name)
        for value in vars(module).values():
            items = value if isinstance(value, (tuple, list)) else (value,)
            for v in items:
                if isinstance(v, Misconception):
                    found[(v.name, v.hint)] = v
    assert len(found) > 40
    return list(found.values())


def test_every_catalogued_mistake_has_both_levels():
    from grader.verdicts.hints import at_level

    for m in _catalogue():
        fix, concept = m.text("fix"), m.text("concept")
        assert fix == m.hint and fix.strip()
        assert concept.strip() and len(concept) < len(fix), (m.name, concept)
        assert "`" not in concept, (m.name, concept)  # no code: the code is the fix
        assert at_level(fix, "concept") == concept and at_level(fix, "fix") == fix


def test_joined_hints_keep_each_concept():
    from grader.verdicts.diagnosis import join
    from grader.verdicts.hints import at_level

    a, b = _catalogue()[:2]
    joined = join([a.hint, b.hint])
    assert at_level(joined, "concept") == join([a.text("concept"), b.text("concept")])


def test_level_from_option_then_environment(monkeypatch):
    from grader.hint_levels import chosen_level, current_level

    monkeypatch.delenv("GRADER_HINT_LEVEL", raising=False)
    assert chosen_level(None) == "fix" and current_level() == "fix"
    monkeypatch.setenv("GRADER_HINT_LEVEL", "concept")
    assert chosen_level(None) == "concept" and current_level() == "concept"
    assert chosen_level("fix") == "fix"
    monkeypatch.setenv("GRADER_HINT_LEVEL", "answers")
    with pytest.raises(ValueError, match="fix, concept"):
        chosen_level(None)


def _graded(tmp_path, *extra, env=None):
    import os
    import subprocess
    import sys

    sub = tmp_path / "sub"
    sub.mkdir(exist_ok=True)
    (sub / "exercise1_softmax.py").write_text((ROOT / "tests/corpus/exercise1/bug_no_max_subtraction.py").read_text())
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "grader.cli", "1", "-s", str(sub), "--no-server", "-f", "json", "-o", str(out), *extra],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode in (0, 1), proc.stderr
    return [t["hint"] for t in json.loads(out.read_text())["exercises"][0]["tests"] if t["status"] == "failed"]


@pytest.mark.slow
def test_grade_at_both_levels(tmp_path):
    fix = _graded(tmp_path)
    concept = _graded(tmp_path, "--hint-level", "concept")
    assert any("x.max(dim=-1, keepdim=True).values" in h for h in fix)
    assert concept and all(h.strip() for h in concept)
    assert not any("keepdim=True" in h for h in concept), concept
    assert _graded(tmp_path, env={"GRADER_HINT_LEVEL": "concept"}) == concept


def test_bad_level_is_a_clear_error(tmp_path):
    proc = run_cli("1", "--no-server", "-s", tmp_path, "--hint-level", "answers")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr and "Traceback" not in proc.stderr


def test_autograder_and_release_carry_the_level(tmp_path):
    from grader.commands.release import EDITION

    assert 'HINT_LEVEL = "concept"' in EDITION.format(version="0", hint_level="concept")
    out = tmp_path / "ag.zip"
    proc = run_cli("autograder", "--out", out, "--hint-level", "concept", "-e", "1")
    assert proc.returncode == 0, proc.stderr
    with zipfile.ZipFile(out) as z:
        configs = [json.loads(z.read(n)) for n in z.namelist() if n.endswith("nngrade-autograder.json")]
    assert any(c.get("hint_level") == "concept" for c in configs), configs


@pytest.mark.slow
def test_batch_takes_the_option():
    from grader.batch.options import parser

    args = parser().parse_args(["subs", "--out", "o", "--hint-level", "concept"])
    assert args.hint_level == "concept"
