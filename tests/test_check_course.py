"""What grade check-course says of a course's mistakes folder, its model answers and its scaffolds,
judged from the reports it grades (grader.commands.authoring); the slow tests grade a real course."""

from pathlib import Path

from grader.commands.authoring import judge_mistake
from grader.verdicts.diagnosis import join

OVERFLOW = "exp(x) overflows to inf for large x: subtract the maximum first, m + log(sum(exp(x - m)))."
GLOBAL_MAX = "Take the maximum along dim, one per slice, not x.max() of the whole tensor."


def _entry(*hints: str) -> dict:
    tests = [
        {"name": f"test_{i}", "status": "failed", "score": 0.0, "max_score": 1.0, "message": "off", "hint": h}
        for i, h in enumerate(hints)
    ]
    return {"name": "exercise1", "title": "Logsumexp", "score": 0.0, "max_score": 10.0, "tests": tests}


BUG = Path("mistakes/bug_global_max.py")


def test_a_mistake_is_named_by_a_hint_that_names_it_alone():
    assert judge_mistake(_entry(join([OVERFLOW, GLOBAL_MAX]), GLOBAL_MAX), BUG, "one per slice") is None
    assert judge_mistake(_entry(GLOBAL_MAX), BUG, "one per slice") is None


def test_a_mistake_matched_only_by_a_joined_hint_is_a_problem():
    """The hint of another mistake (overflow) matches the joined hint of one test, while another test's
    hint names the file's mistake alone (the global maximum): not named."""
    said = judge_mistake(_entry(join([OVERFLOW, GLOBAL_MAX]), GLOBAL_MAX), BUG, "overflows to inf")
    assert said is not None
    assert said.startswith(
        "exercise1 (Logsumexp): mistakes/bug_global_max.py is named only together with another mistake: "
        "'overflows to inf' matches test_0's 'More than one bug gives exactly this result: (1) exp(x) overflows"
    )
    assert "test_1 says 'Take the maximum along dim" in said


def test_a_mistake_no_test_tells_apart_from_another_is_said_to_be_ambiguous():
    both = join([OVERFLOW, GLOBAL_MAX])
    said = judge_mistake(_entry(both, both), BUG, "one per slice")
    assert said is not None and "the hint is ambiguous on every test" in said
    assert said.endswith("add a test whose inputs tell them apart")
    assert "not named" in judge_mistake(_entry(both), BUG, "zzz nothing")
