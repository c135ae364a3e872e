"""Shapes of real code that were graded wrong: each graded from
its corpus file (tests/corpus, written for this project), with the verdict of
each test that matters and the hint it must get."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import ROOT

from grader.exercises import lookup

# Slow by design: each test grades a real student's file in a worker (the fast tier keeps the
# verdicts' unit tests, tests/verdicts/).
pytestmark = pytest.mark.slow

CORPUS = ROOT / "tests" / "corpus"


def _grade(grade_folder, tmp_path, name: str, file: str) -> dict:
    ex = lookup(name)
    folder = tmp_path / file
    folder.mkdir()
    shutil.copyfile(CORPUS / name / f"{file}.py", folder / ex.file)
    (entry,) = grade_folder(folder, name)["exercises"]
    return entry


def _tests(entry, prefix: str) -> list:
    found = [t for t in entry["tests"] if t["name"] == prefix or t["name"].startswith(prefix + "[")]
    assert found, prefix
    return found


def _lost(entry) -> set:
    return {t["name"].split("[")[0] for t in entry["tests"] if t["status"] != "passed"}


def test_sequential_over_children_runs_a_reused_layer_once(grade_folder, tmp_path):
    entry = _grade(grade_folder, tmp_path, "exercise6", "bug_children_skips_reused_layer")
    assert _lost(entry) == {"test_layer_used_twice"}
    (t,) = _tests(entry, "test_layer_used_twice")
    assert t["status"] == "failed" and "passed twice ran only once" in t["hint"] and "children()" in t["hint"]
    assert entry["score"] == 10 - t["max_score"]


def test_linear_unscaled_randn_is_named(grade_folder, tmp_path):
    entry = _grade(grade_folder, tmp_path, "exercise4", "bug_randn_unscaled")
    assert _lost(entry) == {"test_init_statistics"}
    for t in _tests(entry, "test_init_statistics"):
        assert "1/sqrt(in_dim) scaling" in t["hint"] and "torch.rand " not in t["hint"], t


def test_linear_uninitialised_weight_is_named_and_scored_the_same_every_run(grade_folder, tmp_path):
    for file in ("bug_weight_torch_empty", "bug_weight_tensor_constructor"):
        runs = []
        for k in range(3):
            (tmp_path / f"{file}{k}").mkdir()
            entry = _grade(grade_folder, tmp_path / f"{file}{k}", "exercise4", file)
            runs.append(json.dumps(entry, sort_keys=True))
        assert runs[0] == runs[1] == runs[2], file
        lost = [t for t in entry["tests"] if t["status"] != "passed"]
        assert lost and all("uninitialised memory" in t["hint"] for t in lost), [t["hint"] for t in lost]
        assert not any("backward does not match" in t["hint"] for t in entry["tests"])
        assert {"test_forward", "test_gradcheck_input", "test_init_statistics"} <= _lost(entry)


def test_relu_moving_its_result_to_a_device_it_picks(grade_folder, tmp_path):
    entry = _grade(grade_folder, tmp_path, "exercise5", "bug_result_moved_to_chosen_device")
    assert _lost(entry) == {"test_follows_input_device"}
    (t,) = _tests(entry, "test_follows_input_device")
    assert "device it chooses itself" in t["hint"] and "zeros_like" not in t["hint"], t["hint"]


def test_epoch_returning_loss_and_accuracy_keeps_the_update_points(grade_folder, tmp_path):
    entry = _grade(grade_folder, tmp_path, "exercise9", "bug_returns_loss_accuracy")
    updates = (
        "test_train_parameters",
        "test_train_momentum",
        "test_train_batch_sizes",
        "test_train_float32",
        "test_two_epochs",
    )
    assert not _lost(entry) & set(updates), _lost(entry)
    for name in ("test_train_figures", "test_eval_figures"):
        (t,) = _tests(entry, name)
        assert t["status"] == "failed" and "You returned (loss, accuracy)" in t["hint"], t


def test_epoch_with_three_mistakes_names_each(grade_folder, tmp_path):
    entry = _grade(grade_folder, tmp_path, "exercise9", "bug_loss_accuracy_over_samples")
    (t,) = _tests(entry, "test_eval_figures")
    assert t["hint"].startswith("3 mistakes together give exactly these numbers: (1) You returned (loss, accuracy)")
    assert "(2) You averaged over samples" in t["hint"]
    assert "test_train_parameters" not in _lost(entry)


def test_momentum_test_tells_given_optimizer_from_own(grade_folder, tmp_path):
    given = _grade(grade_folder, tmp_path, "exercise9", "bug_summed_loss_given_optimizer")
    (t,) = _tests(given, "test_train_momentum")
    assert t["status"] == "failed" and "steps the optimizer it was given" in t["hint"]
    assert "optimizer of your own" not in t["hint"]
    own = _grade(grade_folder, tmp_path, "exercise9", "bug_creates_own_optimizer")
    (t,) = _tests(own, "test_train_momentum")
    assert "optimizer you were given never stepped" in t["hint"]
