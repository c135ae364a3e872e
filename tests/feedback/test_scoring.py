"""The scoring rule (grader.feedback.scoring): a test earns its fixed points when it passed
or was skipped, nothing when it failed or erred; an exercise's score is the sum (whole hundredths); an
exercise whose tests could not be run is the grader's error, scored 0."""

import pytest

from grader.exercises import EXERCISES
from grader.feedback.records import ExerciseRun, TestRecord
from grader.feedback.scoring import INTERNAL_ERROR, build_report, report_data, score_exercise, score_test
from grader.wire.sizes import MAX_FIELD

EX1, EX2 = EXERCISES[0], EXERCISES[1]


def rec(status="passed", points=1.0, exercise=EX1.name, **more) -> TestRecord:
    return TestRecord(
        exercise=exercise, name=f"test_{status}", description="", points=points, visible=False, status=status, **more
    )


def report(records, runs=None, errors=(), debug=False, exercises=(EX1,)):
    return build_report(
        list(exercises),
        records,
        runs or {},
        list(errors),
        submission="sub",
        seed=7,
        cuda=False,
        grader_version="g",
        torch_version="t",
        debug=debug,
    )


@pytest.mark.parametrize("status, earned", [("passed", 2.5), ("skipped", 2.5), ("failed", 0.0), ("error", 0.0)])
def test_a_test_earns_its_points_when_passed_or_skipped(status, earned):
    t = score_test(rec(status, points=2.5))
    assert (t.score, t.max_score, t.status) == (earned, 2.5, status)


def test_a_test_keeps_its_verdict_and_optional_fields():
    t = score_test(
        rec(
            "failed",
            message="off",
            hint="h",
            kind="exception",
            reproducer="print(1)",
            devices=["cpu", "cuda"],
            failed_on="cuda",
        )
    )
    d = t.to_dict()
    assert (d["message"], d["hint"], d["kind"], d["reproducer"], d["devices"]) == (
        "off",
        "h",
        "exception",
        "print(1)",
        ["cpu", "cuda"],
    )
    assert "trace" not in d and "failed_on" not in d and "exercise" not in d


def test_an_exercise_scores_the_sum_of_its_tests():
    ex = score_exercise(EX1, [rec("passed", 3), rec("failed", 4), rec("skipped", 2), rec("error", 1)], None, [])
    assert (ex.score, ex.max_score, ex.status, ex.message) == (5.0, 10.0, "graded", "")
    assert [t.score for t in ex.tests] == [3, 0, 2, 0]


def test_split_points_are_hundredths_and_the_sums_are_exact():
    from grader.harness.points import split

    thirds = split(10, 3)
    ex = score_exercise(EX1, [rec("passed", p) for p in thirds[:2]] + [rec("failed", thirds[2])], None, [])
    assert [t.score for t in ex.tests] == [3.34, 3.33, 0.0]
    assert [t.max_score for t in ex.tests] == [3.34, 3.33, 3.33]
    assert ex.score == 6.67
    # split points summing to 10 give exactly 10, not 9.99 or 10.01
    assert score_exercise(EX1, [rec("passed", p) for p in split(10, 7)], None, []).score == 10.0
    assert score_exercise(EX1, [rec("passed", p) for p in split(10, 7)[1:]], None, []).score == 8.57


@pytest.mark.parametrize("errors, records", [([("test_exercise1_softmax.py", "ImportError")], [rec()]), ([], [])])
def test_an_exercise_that_could_not_run_is_an_internal_error_with_0(errors, records):
    ex = score_exercise(EX1, records, None, errors)
    assert (ex.status, ex.score, ex.message) == ("error", 0.0, INTERNAL_ERROR)
    assert ex.trace is None  # the collection error's text only with --debug
    if errors:
        assert score_exercise(EX1, records, None, errors, debug=True).trace == "ImportError"


def test_collection_errors_count_only_for_their_own_suite():
    r = report(
        [rec("passed", 10), rec("passed", 10, exercise=EX2.name)],
        errors=[(EX2.suite + "::x", "boom")],
        exercises=(EX1, EX2),
    )
    assert [(e.status, e.score) for e in r.exercises] == [("graded", 10.0), ("error", 0.0)]
    assert (r.score, r.max_score) == (10.0, 20.0)


def test_an_exercise_is_out_of_its_own_points_and_the_report_out_of_their_sum():
    import dataclasses

    heavy = dataclasses.replace(EX2, points=20.0)
    r = report([rec("passed", 10), rec("passed", 12.5, exercise=EX2.name)], exercises=(EX1, heavy))
    assert [(e.score, e.max_score) for e in r.exercises] == [(10.0, 10.0), (12.5, 20.0)]
    assert (r.score, r.max_score) == (22.5, 30.0)


def test_a_load_error_keeps_its_status_message_and_hint():
    run = ExerciseRun(status="load_error", message="SyntaxError on line 3", hint=None)
    ex = score_exercise(EX1, [rec("error", 10)], run, [])
    assert (ex.status, ex.message, ex.hint, ex.score) == ("load_error", "SyntaxError on line 3", "", 0.0)


def test_review_appears_only_when_something_was_flagged():
    assert "review" not in score_exercise(EX1, [rec()], ExerciseRun(), []).to_dict()
    ex = score_exercise(EX1, [rec()], ExerciseRun(review=["reads a file"]), [])
    assert ex.to_dict()["review"] == ["reads a file"] and list(ex.to_dict())[-1] == "review"


def test_the_report_sums_its_exercises_and_names_what_graded_it():
    r = report([rec("passed", 2.344), rec("passed", 2.344, exercise=EX2.name)], exercises=(EX1, EX2))
    d = r.to_dict()
    assert list(d) == [
        "score",
        "max_score",
        "exercises",
        "seed",
        "submission",
        "grader_version",
        "torch_version",
        "cuda",
    ]
    assert (d["score"], d["seed"], d["submission"], d["grader_version"], d["torch_version"], d["cuda"]) == (
        4.68,
        7,
        "sub",
        "g",
        "t",
        False,
    )  # the sum of the exercises' rounded 2.34 (not 4.688 rounded)
    assert [e["name"] for e in d["exercises"]] == [EX1.name, EX2.name]


def test_records_of_other_exercises_are_not_counted():
    r = report([rec("passed", 5), rec("passed", 5, exercise="exercise99")])
    assert r.score == 5.0 and len(r.exercises[0].tests) == 1


def test_report_data_clips_every_field():
    long = "x" * (MAX_FIELD + 1000)
    data = report_data(report([rec("failed", 10, message=long)]))
    message = data["exercises"][0]["tests"][0]["message"]
    assert message.startswith("x" * MAX_FIELD) and message.endswith("[1000 more characters cut]")
    ok = report_data(report([rec("failed", 10, message="short")]))
    assert ok["exercises"][0]["tests"][0]["message"] == "short"
