"""Hints that name the mistake in real students' code, and never a blank one: one test per
pattern of hints that went wrong (an unknown error, a generic hint where it does not apply, two
mistakes at once, a wrong cause, a second bug hidden by the first, a type check stricter than its
words, a missing size-1 input shape), each graded from its corpus file (tests/corpus)."""

from __future__ import annotations

import shutil

import pytest
from conftest import ROOT

from grader.exercises import lookup

CORPUS = ROOT / "tests" / "corpus"


def _grade(grade_folder, tmp_path, name: str, file: str) -> dict:
    ex = lookup(name)
    folder = tmp_path / file
    folder.mkdir()
    shutil.copyfile(CORPUS / name / f"{file}.py", folder / ex.file)
    (entry,) = grade_folder(folder, name)["exercises"]
    return entry


def _grade_source(grade_folder, tmp_path, name: str, source: str) -> dict:
    ex = lookup(name)
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / ex.file).write_text(source)
    (entry,) = grade_folder(folder, name)["exercises"]
    return entry


def _failed(entry) -> list:
    return [t for t in entry["tests"] if t["status"] not in ("passed", "skipped")]


def _first_hint(entry) -> str:
    return _failed(entry)[0]["hint"]


# -- 1. an error no table knows ----------------------------------------------------------------


def test_if_on_a_whole_tensor_is_named(grade_folder, tmp_path):
    entry = _grade(grade_folder, tmp_path, "exercise5", "bug_if_whole_tensor")
    assert _failed(entry)
    for t in _failed(entry):
        assert t["hint"].strip(), t
    assert "one True/False" in _first_hint(entry) and "elementwise" in _first_hint(entry)


def test_an_unknown_error_says_where_and_on_which_call(grade_folder, tmp_path):
    entry = _grade_source(
        grade_folder,
        tmp_path,
        "exercise1",
        ("import torch\n\n\ndef softmax(x):\n    raise LookupError('no such row')\n"),
    )
    lost = _failed(entry)
    assert lost and all(t["hint"].strip() for t in lost)
    hint = _first_hint(entry)
    assert "raised LookupError at exercise1_softmax.py, line 5" in hint and "softmax(x)" in hint, hint


def test_optimizer_none_used_is_named(grade_folder, tmp_path):
    entry = _grade(grade_folder, tmp_path, "exercise9", "bug_opt_none_stepped")
    hints = [t["hint"] for t in _failed(entry)]
    assert hints and all(h.strip() for h in hints)
    assert any("is None here" in h and "is not None" in h for h in hints), hints


def test_unexplained_failure_still_gets_words():
    from grader.verdicts.hints import unexplained_hint

    for status, kind in (("failed", None), ("error", "crash"), ("error", "internal")):
        assert unexplained_hint(status, kind, "").strip()
        assert unexplained_hint(status, kind, "f(x) returned 3, expected 4\n  input: x").strip()


# -- 2. a generic hint only where the evidence supports it ---------------------------------------


def test_own_assert_is_named_not_only_2d(grade_folder, tmp_path):
    entry = _grade(grade_folder, tmp_path, "exercise1", "bug_assert_two_dims")
    hint = _first_hint(entry)
    assert "Your own `assert` (line" in hint and "right for a 2-D input" not in hint, hint


def test_division_by_n_times_k_is_not_told_to_use_dim_minus_one(grade_folder, tmp_path):
    entry = _grade(grade_folder, tmp_path, "exercise3", "bug_one_hot_divided_by_numel")
    hint = _first_hint(entry)
    assert "all n·k entries" in hint and "dim=-1" not in hint, hint


# -- 3. two mistakes (and parameterised ones) at once --------------------------------------------


def test_learning_rate_schedule_is_named(grade_folder, tmp_path):
    entry = _grade(grade_folder, tmp_path, "exercise7", "bug_lr_sqrt_decay")
    hints = [t["hint"] for t in _failed(entry)]
    assert any("lr / sqrt(t + 1) at step t = 1" in h for h in hints), hints
    halved = _grade(grade_folder, tmp_path, "exercise7", "bug_lr_halved_each_step")
    assert any("lr * 0.5 ** t" in t["hint"] for t in _failed(halved)), [t["hint"] for t in _failed(halved)]


def test_epoch_with_two_divisor_mistakes_names_both(grade_folder, tmp_path):
    entry = _grade(grade_folder, tmp_path, "exercise9", "bug_batch_means_over_samples")
    hint = _first_hint(entry)
    assert hint.startswith("2 mistakes together give exactly these numbers"), hint
    assert (
        "error was averaged over samples" in hint and "MEAN losses but divides them by the number of samples" in hint
    ), hint


# -- 4. what looks alike told apart from the evidence ---------------------------------------------


def test_dict_kept_layers_are_not_blamed_on_children(grade_folder, tmp_path):
    entry = _grade(grade_folder, tmp_path, "exercise6", "bug_dict_keyed_by_module")
    (t,) = [t for t in _failed(entry)]
    assert "in a dict (`self.order`)" in t["hint"] and "children()" not in t["hint"], t["hint"]
    children = _grade(grade_folder, tmp_path, "exercise6", "bug_children_skips_reused_layer")
    assert "self.children()" in _first_hint(children)


def test_uninitialised_bias_is_not_called_randn(grade_folder, tmp_path):
    runs = [
        _grade(grade_folder, tmp_path / str(k), "exercise4", "bug_uninitialised_bias")
        for k in range(2)
        if (tmp_path / str(k)).mkdir() is None
    ]
    (t,) = _failed(runs[0])
    assert "uninitialised memory" in t["hint"] and "randn" not in t["hint"].split(":")[0], t["hint"]
    assert runs[0] == runs[1]  # the garbage never shows in the report: the same every run


# -- 5. the second bug behind the first -----------------------------------------------------------


def test_unstable_log_softmax_behind_a_sum_is_also_named(grade_folder, tmp_path):
    entry = _grade(grade_folder, tmp_path, "exercise3", "bug_gather_log_softmax_summed")
    hint = _first_hint(entry)
    assert hint.startswith("You summed the per-sample losses") and " Also: on far-apart logits" in hint, hint
    stable = _grade(grade_folder, tmp_path, "exercise3", "bug_gather_no_mean_stable")
    assert "Also:" not in _first_hint(stable)


# -- 6. a type check no stricter than its words ---------------------------------------------------


def test_numpy_float64_is_a_float():
    import numpy as np

    from grader.verdicts.checks import Failure, expect_float

    assert expect_float(np.float64(0.25), "f") == 0.25
    with pytest.raises(Failure) as info:
        expect_float(np.float32(0.25), "f")
    assert info.value.hint and "float(...)" in info.value.hint


def test_numpy_figures_keep_full_marks_and_never_hide_the_mistake(grade_folder, tmp_path):
    ok = _grade(grade_folder, tmp_path, "exercise9", "ok_numpy_mean")
    assert ok["score"] == ok["max_score"], [(t["name"], t["message"]) for t in _failed(ok)]
    bug = _grade(grade_folder, tmp_path, "exercise9", "bug_numpy_mean_sample_weighted")
    assert "averaged over samples" in _first_hint(bug)
    assert not any("numpy" in t["message"] for t in _failed(bug))


# -- 7. size-1 dimensions in every position ---------------------------------------------------------


def test_inputs_have_size_one_dimensions_in_each_position():
    from grader.suites import test_exercise1_softmax as e1
    from grader.suites import test_exercise2_log_softmax as e2
    from grader.suites import test_exercise3_cross_entropy as e3
    from grader.suites import test_exercise4_linear as e4
    from grader.suites import test_exercise5_relu as e5
    from grader.suites import test_exercise6_sequential as e6
    from grader.suites import test_exercise8_matmul as e8
    from grader.suites import test_exercise9_epoch as e9

    for suite in (e1, e2, e4, e5, e6):
        shapes = list(suite.SHAPES.values())
        assert any(s[0] == 1 and len(s) >= 2 for s in shapes), suite.__name__  # a batch of one
        assert any(1 in s[1:-1] for s in shapes if len(s) >= 3), suite.__name__  # a size-1 middle dimension
    assert any(s[-1] == 1 for s in e1.SHAPES.values()) and any(s[-1] == 1 for s in e2.SHAPES.values())
    cases = list(e3.CASES.values())
    assert (1, 5) in cases and any(k == 1 for _n, k in cases)  # one sample, one class
    nkm = list(e8.SHAPES.values())
    assert all(any(s[i] == 1 for s in nkm) for i in range(3))
    assert any(bs == 1 for bs, _n in e9.BATCHES.values())


@pytest.mark.parametrize("name", ["exercise1", "exercise2"])
def test_bare_squeeze_loses_points_and_is_named(grade_folder, tmp_path, name):
    entry = _grade(grade_folder, tmp_path, name, "bug_lse_bare_squeeze")
    assert entry["score"] < entry["max_score"]
    assert "bare .squeeze()" in _first_hint(entry) and "(3, 1, 4)" in _first_hint(entry)
