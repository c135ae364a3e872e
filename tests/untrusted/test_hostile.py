"""Submissions that attack the grader score 0 on their exercise and grading completes.

Each hostile file would earn full marks if its trick worked (it falls back to
a correct answer taken from the reference or makes every comparison pass), so
a score of 0 proves the trick failed, not just that the code was wrong.
"""

import time

import pytest

from grader.transport.limits import Limits
from tests.conftest import exercise_of

# Slow by design: each test grades hostile code that runs into a limit (time, memory, output)
# beside an honest exercise.
pytestmark = pytest.mark.slow

FAST = Limits(call_timeout=2.0, load_timeout=4.0, exercise_budget=20.0, memory_bytes=512 << 20)

CORRECT_LOG_SOFTMAX = """
import torch
def log_softmax(x):
    m = x.max(-1, keepdim=True).values
    return x - m - torch.log(torch.exp(x - m).sum(-1, keepdim=True))
"""


def _grade_with_bystander(grade_folder, submission, hostile_source, limits=FAST):
    """Grade a hostile exercise 1 next to a correct exercise 2."""
    folder = submission({"exercise1_softmax.py": hostile_source, "exercise2_log_softmax.py": CORRECT_LOG_SOFTMAX})
    start = time.monotonic()
    report = grade_folder(folder, "exercise1", "exercise2", limits=limits)
    return report, time.monotonic() - start


def _assert_contained(report):
    ex1, ex2 = exercise_of(report, "exercise1"), exercise_of(report, "exercise2")
    assert ex1["score"] == 0, ex1
    assert ex2["score"] == 10, "a hostile exercise 1 must not cost exercise 2 anything"
    return ex1


def test_exit_at_import(grade_folder, submission):
    report, _ = _grade_with_bystander(
        grade_folder,
        submission,
        """
        import sys
        sys.exit(0)
        def softmax(x):
            return x
    """,
    )
    ex1 = _assert_contained(report)
    assert ex1["status"] == "load_error" and "exit" in ex1["message"]


def test_hard_exit_at_import(grade_folder, submission):
    report, _ = _grade_with_bystander(
        grade_folder,
        submission,
        """
        import os
        os._exit(0)
    """,
    )
    ex1 = _assert_contained(report)
    assert "ended the worker process" in ex1["message"] and "exit status 0" in ex1["message"]


def test_exit_during_a_call(grade_folder, submission):
    report, _ = _grade_with_bystander(
        grade_folder,
        submission,
        """
        import os
        def softmax(x):
            os._exit(0)
    """,
    )
    ex1 = _assert_contained(report)
    assert all("ended the worker process" in t["message"] for t in ex1["tests"] if t["status"] != "skipped")


def test_patching_comparisons_changes_nothing(grade_folder, submission):
    report, _ = _grade_with_bystander(
        grade_folder,
        submission,
        """
        import torch, torch.testing
        torch.allclose = lambda *a, **k: True
        torch.equal = lambda *a, **k: True
        torch.testing.assert_close = lambda *a, **k: None
        torch.Tensor.__eq__ = lambda self, other: True
        def softmax(x):
            return torch.zeros_like(x)
    """,
    )
    ex1 = _assert_contained(report)
    assert any("does not match the expected result" in t["message"] for t in ex1["tests"])


def test_walking_the_callers_frames_finds_no_reference(grade_folder, submission):
    report, _ = _grade_with_bystander(
        grade_folder,
        submission,
        """
        import sys, gc
        def _find_reference():
            f = sys._getframe()
            while f is not None:
                for scope in (f.f_locals, f.f_globals):
                    for v in list(scope.values()):
                        if getattr(v, "__name__", "") == "reference" or hasattr(v, "softmax") and v is not sys.modules[__name__]:
                            return v
                f = f.f_back
            for name in ("reference", "grader.suites.test_exercise1_softmax"):
                if name in sys.modules:
                    return sys.modules[name]
            try:
                import reference
                return reference
            except ImportError:
                pass
            for obj in gc.get_objects():
                if getattr(obj, "__name__", None) == "reference":
                    return obj
            return None

        def softmax(x):
            ref = _find_reference()
            if ref is not None:
                return ref.softmax(x)
            return x * 0
    """,
    )
    _assert_contained(report)


def test_infinite_loop(grade_folder, submission):
    report, elapsed = _grade_with_bystander(
        grade_folder,
        submission,
        """
        def softmax(x):
            while True:
                pass
    """,
    )
    ex1 = _assert_contained(report)
    messages = [t["message"] for t in ex1["tests"] if t["status"] != "skipped"]
    assert any("did not finish within" in m for m in messages)
    assert any("timed out" in m for m in messages)  # the rest is not run after max_timeouts
    assert elapsed < 60


def test_infinite_loop_at_import(grade_folder, submission):
    report, _ = _grade_with_bystander(
        grade_folder,
        submission,
        """
        while True:
            pass
    """,
    )
    ex1 = _assert_contained(report)
    assert "took longer than" in ex1["message"]


def test_memory_bomb(grade_folder, submission):
    report, _ = _grade_with_bystander(
        grade_folder,
        submission,
        """
        def softmax(x):
            hog = []
            while True:
                hog.append(bytearray(64 << 20))
    """,
    )
    ex1 = _assert_contained(report)
    assert any("memory" in (t["message"] + t["hint"]).lower() for t in ex1["tests"])


def test_tensor_memory_bomb(grade_folder, submission):
    report, _ = _grade_with_bystander(
        grade_folder,
        submission,
        """
        import torch
        def softmax(x):
            return torch.ones(1 << 40)
    """,
    )
    _assert_contained(report)


def test_output_flood(grade_folder, submission):
    """print() past the cap is cut, never an error: an endless printing loop is an endless loop
    (a time-out), and the report says the output was cut."""
    limits = Limits(call_timeout=5.0, load_timeout=5.0, exercise_budget=30.0, output_bytes=1 << 20)
    report, _ = _grade_with_bystander(
        grade_folder,
        submission,
        """
        def softmax(x):
            while True:
                print("spam " * 1000)
    """,
        limits=limits,
    )
    ex1 = _assert_contained(report)
    assert not any("printed more output" in t["hint"] or "File too large" in t["message"] for t in ex1["tests"])
    assert any(n.startswith("exercise1: your code printed more than the grader keeps") for n in report["notes"])


def test_output_flood_past_print(grade_folder, submission):
    """Bytes written to the output's file descriptor itself still meet the file-size limit."""
    limits = Limits(call_timeout=5.0, load_timeout=5.0, exercise_budget=30.0, output_bytes=1 << 20)
    report, _ = _grade_with_bystander(
        grade_folder,
        submission,
        """
        import os
        def softmax(x):
            while True:
                os.write(1, b"spam " * 1000)
    """,
        limits=limits,
    )
    ex1 = _assert_contained(report)
    assert any("printed more output" in t["hint"] or "File too large" in t["message"] for t in ex1["tests"])


@pytest.mark.parametrize(
    "source",
    [
        # a tensor subclass whose comparisons always succeed
        """
    import torch
    class Liar(torch.Tensor):
        def __eq__(self, other): return True
        def allclose(self, *a, **k): return True
    def softmax(x):
        return torch.zeros_like(x).as_subclass(Liar)
    """,
        # an object that claims to equal everything
        """
    class Anything:
        def __eq__(self, other): return True
        shape = property(lambda self: (7,))
    def softmax(x):
        return Anything()
    """,
    ],
    ids=["tensor-subclass", "custom-eq"],
)
def test_strictly_typed_results(grade_folder, submission, source):
    report, _ = _grade_with_bystander(grade_folder, submission, source)
    ex1 = _assert_contained(report)
    assert any("expected a torch.Tensor" in t["message"] for t in ex1["tests"])


def test_grader_files_are_out_of_reach_of_imports(grade_folder, submission):
    """Importing the reference or the hidden suites fails inside the worker."""
    report, _ = _grade_with_bystander(
        grade_folder,
        submission,
        """
        import reference
        def softmax(x):
            return reference.softmax(x)
    """,
    )
    ex1 = _assert_contained(report)
    assert "not available to submissions" in ex1["message"]
