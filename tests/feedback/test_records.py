"""The report's records (grader.feedback.records) give the report's JSON data exactly:
every report saved in tests/golden reads back (from_dict) and writes out (to_dict) to the
same text, key order included, and renders to the same text report."""

import json
from pathlib import Path

import pytest

from grader.feedback.records import ExerciseResult, Report, TestResult
from grader.feedback.report import render

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _saved(seed: int) -> list:
    """[(case, JSON text of its report, its text report)] of the saved reports at ``seed``."""
    saved = json.loads((GOLDEN / f"reports-seed{seed}.json").read_text())
    out = []
    for case, formats in saved.items():
        _, _, body = formats["json"].partition("\n")  # "exit N" first
        _, _, text = formats["text"].partition("\n")
        out.append((case, body, text))
    return out


@pytest.mark.parametrize("seed", [0, 1234])
def test_every_saved_report_round_trips_byte_for_byte(seed):
    saved = _saved(seed)
    assert len(saved) > 100
    changed = []
    for case, body, _ in saved:
        report = Report.from_dict(json.loads(body))
        assert all(isinstance(e, ExerciseResult) for e in report.exercises)
        assert all(isinstance(t, TestResult) for e in report.exercises for t in e.tests)
        if json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n" != body:
            changed.append(case)
    assert not changed


def test_the_saved_reports_hold_the_optional_keys():
    """The round trip above covers tests with and without kind and reproducer."""
    keys = set()
    for _, body, _ in _saved(0):
        for ex in json.loads(body)["exercises"]:
            for t in ex["tests"]:
                keys |= set(t)
    assert {"kind", "reproducer"} <= keys


def test_a_record_renders_as_its_data_does():
    for case, body, text in _saved(0)[:20]:
        report = Report.from_dict(json.loads(body))
        assert render(report, "text") == text, case
        assert render(report, "json") == body, case


def _test(**more) -> dict:
    return {
        "name": "test_x",
        "description": "x",
        "status": "failed",
        "score": 0.0,
        "max_score": 1.0,
        "message": "off",
        "hint": "",
        "visible": True,
        **more,
    }


def test_optional_keys_appear_only_when_set_in_their_order():
    plain = TestResult.from_dict(_test())
    assert list(plain.to_dict()) == list(_test())
    assert plain.kind is plain.trace is plain.reproducer is plain.devices is None
    # given in another order, they come out in the report's order
    full = TestResult.from_dict(_test(devices=["cpu", "cuda"], reproducer="print(1)", trace="tb", kind="timeout"))
    assert list(full.to_dict())[-4:] == ["kind", "trace", "reproducer", "devices"]
    assert full.devices == ["cpu", "cuda"]


def test_an_exercise_keeps_review_and_trace_after_its_tests():
    data = {
        "name": "exercise1",
        "title": "Softmax",
        "file": "exercise1_softmax.py",
        "score": 0.0,
        "max_score": 10.0,
        "status": "error",
        "message": "m",
        "hint": "",
        "tests": [_test()],
        "review": ["a note"],
        "trace": "tb",
    }
    ex = ExerciseResult.from_dict(data)
    assert ex.review == ["a note"] and ex.trace == "tb" and ex.tests[0].name == "test_x"
    assert json.dumps(ex.to_dict()) == json.dumps(data)
    ex.review = ex.trace = None
    assert list(ex.to_dict())[-1] == "tests"


def test_keys_added_after_grading_are_kept_after_the_known_ones():
    """A submission's reader adds ``notes``; a record read back keeps them."""
    data = {
        "score": 1.0,
        "max_score": 10.0,
        "exercises": [],
        "seed": 0,
        "submission": "s",
        "grader_version": "1",
        "torch_version": "2",
        "cuda": False,
        "notes": ["cell 3 was skipped"],
    }
    report = Report.from_dict(data)
    assert report.extra == {"notes": ["cell 3 was skipped"]}
    assert json.dumps(report.to_dict()) == json.dumps(data)


def test_a_gradebook_row_round_trips_its_state_file_and_a_bad_one_is_graded_again(tmp_path):
    from grader.batch.output import Output
    from grader.errors import ErrorKind
    from grader.feedback.records import GradeRow, RowStatus

    graded = {
        "student": "ada",
        "entry": "ada/",
        "key": "k1",
        "seed": 7,
        "elapsed": 0.2,
        "cost": {"calls": 3},
        "run": "r1",
        "status": "graded",
        "score": 17.5,
        "max_score": 20.0,
        "exercises": {"exercise1": 10.0, "exercise2": 7.5},
    }
    error = {"student": "ben", "entry": "ben.zip", "status": "error", "kind": "bad_entry", "reason": "corrupt zip"}
    out = Output(tmp_path / "out")
    for data in (graded, error):
        out.write_state(data)  # as a grading process made it
        before = out.state_path(data["student"]).read_bytes()
        row = out.read_state(data["student"])
        assert row is not None and row.to_dict() == data
        out.write_state(row)  # the record writes the same file, byte for byte
        assert out.state_path(data["student"]).read_bytes() == before
    ada, ben = out.read_state("ada"), out.read_state("ben")
    assert ada.status is RowStatus.GRADED and ada.extra == {"cost": {"calls": 3}, "run": "r1"}
    assert ben.status is RowStatus.ERROR and ben.kind is ErrorKind.BAD_ENTRY and ben.score is None
    for bad in ('{"student": "cy", "status": "great"}', '{"status": "graded"}', "[1]", "{"):
        out.state_path("cy").write_text(bad)
        assert out.read_state("cy") is None, bad
    with pytest.raises(ValueError):
        GradeRow.from_dict(dict(error, kind="nonsense"))
