"""The points rule (grader/harness/points.py): fixed points per test function, the same
max_score on every machine and for every submission, and GPU runs that add
evidence to the same tests instead of adding tests."""

from __future__ import annotations

import pytest
import torch

from grader.exercises import EXERCISES, lookup
from tests.conftest import ROOT, exercise_of, run_cli

DEVICE_EXERCISES = ("exercise1", "exercise5", "exercise8")  # suites with tests that take a device


def _points(report) -> dict:
    return {(e["name"], t["name"]): t["max_score"] for e in report["exercises"] for t in e["tests"]}


def _by_function(report) -> dict:
    out: dict = {}
    for e in report["exercises"]:
        for t in e["tests"]:
            key = (e["name"], t["name"].split("[", 1)[0])
            out[key] = round(out.get(key, 0.0) + t["max_score"], 3)
    return out


def _fake_cuda(monkeypatch, gpu="cpu"):
    """CUDA reported present in the grader's process; the 'cuda' runs happen on ``gpu``."""
    import grader.verdicts.devices as devices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(devices, "GPU", gpu)


def _no_cuda(monkeypatch):
    """CUDA reported absent in the grader's process (also on a machine that has it)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_every_test_function_has_points_and_each_exercise_sums_to_10():
    from grader.harness.points import table

    rows = table(EXERCISES)
    missing = [(ex.name, name) for ex, name, pts, *_ in rows if pts is None or pts <= 0]
    assert not missing
    for ex in EXERCISES:
        assert sum(pts for e, _n, pts, *_ in rows if e is ex) == 10, ex.name


def test_each_functions_cases_get_hundredths_that_add_up_to_its_points():
    """Every case of every suite function, as collected: its position among the function's
    cases is one of 0 … n-1, each once, and the cases' points (whole hundredths) add up to
    exactly the function's points."""
    from collections import defaultdict
    from decimal import Decimal

    import pytest

    from grader.harness.points import case_index, cases, function_points, item_points

    by_function = defaultdict(list)

    class Collect:
        def pytest_collection_modifyitems(self, items):
            for item in items:
                by_function[(item.path.name, item.originalname)].append(item)

    assert (
        pytest.main(
            ["--collect-only", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(ROOT / "grader" / "suites")],
            plugins=[Collect()],
        )
        == 0
    )
    assert len(by_function) >= 80
    for key, items in by_function.items():
        n = max(1, cases(list(items[0].iter_markers("parametrize"))))
        assert sorted(case_index(i) for i in items) == list(range(n)), key
        shares = [Decimal(repr(item_points(i))) for i in items]
        assert all(s == s.quantize(Decimal("0.01")) for s in shares), key
        assert sum(shares) == Decimal(repr(function_points(items[0].function))), key


def test_points_table_matches_the_report(grade_folder):
    from grader.harness.points import table

    report = grade_folder(ROOT / "solutions", *DEVICE_EXERCISES)
    written = {(ex.name, name): pts for ex, name, pts, *_ in table([lookup(n) for n in DEVICE_EXERCISES])}
    assert _by_function(report).keys() == written.keys()
    assert all(abs(_by_function(report)[k] - written[k]) < 0.01 for k in written)


@pytest.mark.slow
def test_max_score_is_the_same_with_cuda_present_and_absent(grade_folder, monkeypatch):
    """Faking the device list: CUDA reported present, its runs mapped to the CPU.  The
    device tests run twice (the report says on which devices) but are the same tests,
    with the same max_score, and the model answers still get full marks."""
    _no_cuda(monkeypatch)
    without = grade_folder(ROOT / "solutions", *DEVICE_EXERCISES)
    assert without["cuda"] is False
    assert not any("devices" in t for e in without["exercises"] for t in e["tests"])
    _fake_cuda(monkeypatch)
    with_cuda = grade_folder(ROOT / "solutions", *DEVICE_EXERCISES)
    assert with_cuda["cuda"] is True
    assert _points(with_cuda) == _points(without)
    assert [t["name"] for e in with_cuda["exercises"] for t in e["tests"]] == [
        t["name"] for e in without["exercises"] for t in e["tests"]
    ]
    assert with_cuda["score"] == without["score"] == 30.0
    twice = [t["name"] for t in exercise_of(with_cuda, "exercise5")["tests"] if t.get("devices") == ["cpu", "cuda"]]
    assert any(n.startswith("test_matches_max[") for n in twice), twice
    assert "test_no_parameters" not in twice  # a test without a device argument runs once


# A ReLU that is right the first time it sees an input and wrong when the same
# input comes again: on a machine with CUDA, the device tests give the GPU run the
# same input as the CPU run, so it fails there only.
RIGHT_ONCE = """
import torch
from torch import nn

_seen = set()

class ReLU(nn.Module):
    def forward(self, X):
        key = (tuple(X.shape), str(X.dtype), float(X.detach().double().sum()))
        again = key in _seen
        _seen.add(key)
        return X.clamp(min=0) + (1.0 if again else 0.0)
"""


@pytest.mark.slow
def test_a_test_passes_only_if_it_passes_on_every_device(submission, grade_folder, monkeypatch):
    folder = submission({"exercise5_relu.py": RIGHT_ONCE})
    _no_cuda(monkeypatch)
    cpu_only = exercise_of(grade_folder(folder, "exercise5"), "exercise5")
    cpu = {t["name"]: t for t in cpu_only["tests"]}
    assert all(cpu[n]["status"] == "passed" for n in cpu if n.startswith("test_matches_max["))
    _fake_cuda(monkeypatch)
    both = exercise_of(grade_folder(folder, "exercise5"), "exercise5")
    failed = [t for t in both["tests"] if t["name"].startswith("test_matches_max[")]
    assert failed and all(t["status"] == "failed" and t["score"] == 0 for t in failed)
    assert all(t["message"].startswith("on the GPU (cuda): ") for t in failed), failed[0]["message"]
    assert [t["max_score"] for t in both["tests"]] == [t["max_score"] for t in cpu_only["tests"]]
    assert both["score"] < cpu_only["score"]


@pytest.mark.slow
def test_grade_points_prints_the_table():
    r = run_cli("--points", "5")
    assert r.returncode == 0, r.stderr
    assert "exercise5  ReLU  (10 points)" in r.stdout
    line = next(ln for ln in r.stdout.splitlines() if "test_matches_max" in ln)
    assert line.split()[:4] == ["3.50", "test_matches_max", "12", "cases"] and "CPU+GPU" in line
    assert "max(x, 0)" in line  # what it checks
    assert "visible" not in line.split("max(x, 0)")[0]  # a hidden test
    shown = next(ln for ln in r.stdout.splitlines() if "test_small_example" in ln)
    assert shown.split()[2:4] == ["CPU", "visible"], shown  # in the student edition
    everything = run_cli("--points")
    assert all(f"{ex.name}  {ex.title}  (10 points)" in everything.stdout for ex in EXERCISES)


def test_the_student_editions_rescaled_points_are_hundredths_that_add_up_to_10():
    """The student edition scales the points of the functions it checks to 10 per exercise:
    whole hundredths, the leftover ones to the largest remainders, so they add up to 10."""
    from decimal import Decimal

    from grader.commands.release import points

    cases = [{"function": f, "weight": w} for f, w in (("a", 1.0), ("a", 1.0), ("b", 1.0), ("c", 1.0), ("d", 0.5))]
    got = {c["function"]: c["weight"] for c in points(cases)}
    assert got == {"a": 2.86, "b": 2.86, "c": 2.85, "d": 1.43}
    assert sum(Decimal(repr(w)) for w in got.values()) == 10
    assert [c["function"] for c in points(cases)] == ["a", "a", "b", "c", "d"]
