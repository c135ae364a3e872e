"""grader.harness.run.job_report: the plugin's records of a job, scored, as the report's
JSON data (what the batch, the formats and the platforms read)."""

from types import SimpleNamespace

from grader import __version__
from grader.exercises import EXERCISES
from grader.feedback.records import ExerciseRun, TestRecord
from grader.harness.run import job_report

EX1, EX2 = EXERCISES[0], EXERCISES[1]


def test_a_job_s_records_become_the_report_data_with_debug_traces():
    crash = TestRecord(
        exercise=EX1.name,
        name="test_b",
        description="b",
        points=6.0,
        visible=False,
        status="error",
        kind="internal",
        trace="Traceback: boom",
        message="internal grader error (KeyError); this is not your fault, please report it",
    )
    plugin = SimpleNamespace(
        records={
            "a": TestRecord(exercise=EX1.name, name="test_a", description="a", points=4.0, visible=True),
            "b": crash,
        },
        exercise_info={EX1.name: ExerciseRun(review=["opens a file"])},
        collect_errors=[(EX2.suite, "SyntaxError in the suite")],
        debug=True,
    )
    report = job_report([EX1, EX2], plugin, "sub", 3, False)
    assert type(report) is dict and (report["score"], report["max_score"]) == (4.0, 20.0)
    assert (report["seed"], report["submission"], report["grader_version"]) == (3, "sub", __version__)
    ex1, ex2 = report["exercises"]
    assert [t["name"] for t in ex1["tests"]] == ["test_a", "test_b"]
    assert ex1["tests"][1]["trace"] == "Traceback: boom" and "trace" not in ex1["tests"][0]
    assert ex1["review"] == ["opens a file"] and "trace" not in ex1
    assert (ex2["status"], ex2["score"], ex2["trace"]) == ("error", 0.0, "SyntaxError in the suite")
