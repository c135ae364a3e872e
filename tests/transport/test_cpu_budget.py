"""A submission's CPU budget (issue 10, item 6): a busy loop is stopped once its
CPU time is spent, whatever the wall time left; waiting costs no CPU."""
import re

import pytest

from grader.transport.limits import Limits, Spend
from tests.conftest import ROOT, exercise_of

# a wall budget far larger than the CPU budget: only CPU time can stop these
LIMITS = Limits(call_timeout=2.0, load_timeout=4.0, exercise_budget=60.0, submission_budget=60.0, late_budget=30.0,
                submission_cpu=1.0, late_cpu=0.2)



def _with_cost(file: str, cost: str) -> str:
    """The model answer with ``cost`` run first in each of its functions."""
    src = (ROOT / "solutions" / file).read_text()
    return "import time\n" + re.sub(r"^(def \w+\(.*\):\n)", lambda m: m.group(1) + f"    {cost}\n", src, flags=re.M)


def _grade(grade_folder, submission, cost):
    folder = submission({name: _with_cost(name, cost) for name in ("exercise1_softmax.py",
                                                                   "exercise2_log_softmax.py")})
    return grade_folder(folder, "exercise1", "exercise2", limits=LIMITS)


def test_a_cpu_hog_is_stopped_by_its_cpu_budget(grade_folder, submission):
    report = _grade(grade_folder, submission, "end = time.process_time() + 0.4\n    while time.process_time() < end: pass")
    for name in ("exercise1", "exercise2"):
        ex = exercise_of(report, name)
        budget = [t for t in ex["tests"] if t.get("kind") == "budget"]
        assert budget and all("used up its CPU budget (1 s of CPU time for all exercises, then 0.2 s for each "
                              "exercise)" in t["message"] for t in budget), ex
        assert ex["score"] < ex["max_score"]
    # exercise 2 started after the CPU budget ran out: 0.2 s of CPU, less than one call
    assert sum(t["status"] == "passed" for t in exercise_of(report, "exercise2")["tests"]) <= 1


def test_waiting_costs_no_cpu_budget(grade_folder, submission):
    report = _grade(grade_folder, submission, "time.sleep(0.1)")
    assert all(exercise_of(report, n)["score"] == 10 for n in ("exercise1", "exercise2")), report


def test_spend_as_a_state_row():
    s = Spend()
    s.seconds, s.cpu, s.bytes = 1.23456, 0.5, 7
    assert s.as_dict() == {"wall": 1.235, "cpu": 0.5, "bytes": 7}
    assert Limits().scaled(2).submission_cpu == pytest.approx(2 * Limits().submission_cpu)
