"""A submission's CPU budget: a busy loop is stopped once its
CPU time is spent, whatever the wall time left; waiting costs no CPU."""

import re

import pytest

from grader.transport.limits import Limits, Spend
from tests.conftest import ROOT, exercise_of

# a wall budget far larger than the CPU budget: only CPU time can stop these
LIMITS = Limits(
    call_timeout=2.0,
    load_timeout=4.0,
    exercise_budget=60.0,
    submission_budget=60.0,
    late_budget=30.0,
    submission_cpu=1.0,
    late_cpu=0.2,
)


def _with_cost(file: str, cost: str) -> str:
    """The model answer with ``cost`` run first in each of its functions."""
    src = (ROOT / "solutions" / file).read_text()
    return "import time\n" + re.sub(r"^(def \w+\(.*\):\n)", lambda m: m.group(1) + f"    {cost}\n", src, flags=re.M)


def _grade(grade_folder, submission, cost):
    folder = submission({name: _with_cost(name, cost) for name in ("exercise1_softmax.py", "exercise2_log_softmax.py")})
    return grade_folder(folder, "exercise1", "exercise2", limits=LIMITS)


@pytest.mark.slow
def test_a_cpu_hog_is_stopped_by_its_cpu_budget(grade_folder, submission):
    report = _grade(
        grade_folder, submission, "end = time.process_time() + 0.4\n    while time.process_time() < end: pass"
    )
    for name in ("exercise1", "exercise2"):
        ex = exercise_of(report, name)
        budget = [t for t in ex["tests"] if t.get("kind") == "budget"]
        assert budget and all(
            "used up its CPU budget (1 s of CPU time for all exercises, then 0.2 s for each exercise)" in t["message"]
            for t in budget
        ), ex
        assert ex["score"] < ex["max_score"]
    # exercise 2 started after the CPU budget ran out: 0.2 s of CPU, less than one call
    assert sum(t["status"] == "passed" for t in exercise_of(report, "exercise2")["tests"]) <= 1


@pytest.mark.slow
def test_waiting_costs_no_cpu_budget(grade_folder, submission):
    report = _grade(grade_folder, submission, "time.sleep(0.1)")
    assert all(exercise_of(report, n)["score"] == 10 for n in ("exercise1", "exercise2")), report


def test_spend_as_a_state_row():
    s = Spend()
    s.seconds, s.cpu, s.bytes = 1.23456, 0.5, 7
    assert s.as_dict() == {"wall": 1.235, "cpu": 0.5, "bytes": 7}
    assert Limits().scaled(2).submission_cpu == pytest.approx(2 * Limits().submission_cpu)


def _worker_at(spent: float, budget: float = 10.0):
    """A Worker's accounting alone (no process): ``spent`` CPU seconds charged so far; its
    readings of /proc counted, each finding 0.25 s more."""
    import time

    from grader.transport.processes import Worker

    w = Worker.__new__(Worker)
    w.limits, w.spend = Limits(submission_cpu=budget), Spend()
    w.spend.cpu = w.cpu = spent
    w._read_at, w._unread_wall, w.readings = time.monotonic(), 0.0, 0
    w._worker_cpu = lambda wall: (setattr(w, "readings", w.readings + 1), 0.25)[1]
    return w


def test_the_workers_cpu_is_read_only_when_it_may_have_spent_the_budget():
    w = _worker_at(1.0)
    for _ in range(50):  # far from the budget: a request costs no reading of /proc
        w._charge(0.001)
    assert w.readings == 0 and w.spend.cpu == pytest.approx(1.05)
    w.settle()  # what it spent unread is charged when it is closed
    assert w.readings == 1 and w.spend.cpu == pytest.approx(1.30) and w.cpu == pytest.approx(1.30)

    late = _worker_at(10.0)  # the budget spent: the late budget counts each request
    late._charge(0.001)
    late._charge(0.001)
    assert late.readings == 2 and late.spend.cpu == pytest.approx(10.0 + 0.002 + 0.5)

    near = _worker_at(9.99)
    near._charge(0.001)  # just read: it cannot have spent the 9 ms left since
    assert near.readings == 0
    near._read_at -= 0.01  # 10 ms on 1 CPU or more: it may have
    near._charge(0.001)
    assert near.readings == 1


def test_a_worker_is_read_once_its_requests_took_a_quarter_second_since():
    from grader.transport.processes import UNREAD_WALL

    w = _worker_at(1.0)
    w._unread_wall = UNREAD_WALL / 2
    w._charge(0.0)
    assert w.readings == 0  # (a worker that dies unread is charged these seconds instead)
    w._unread_wall = UNREAD_WALL
    w._charge(0.0)
    assert w.readings == 1 and w._unread_wall == 0.0


def test_a_long_wait_since_the_last_reading_makes_the_next_request_read():
    w = _worker_at(1.0)
    w._read_at -= 10.0  # ten seconds unread: even one CPU could have spent the budget
    w._charge(0.0)
    assert w.readings == 1
    w._charge(0.0)  # just read: not again
    assert w.readings == 1


BUSY = (
    "def _busy(seconds):\n    import time\n    end = time.process_time() + seconds\n"
    "    while time.process_time() < end:\n        pass\n"
)
UNREAPED = {
    # a child started when the file is loaded burns CPU and is never waited for
    "busy child": BUSY + "import multiprocessing\nmultiprocessing.get_context('fork').Process(target=_busy, "
    "args=(1e9,)).start()\n",
    # a child that burns CPU, then exits: a zombie its parent never reaps
    "zombie": BUSY + "import multiprocessing\nmultiprocessing.get_context('fork').Process(target=_busy, "
    "args=(0.7,)).start()\n",
    # a grandchild left behind by a child that exits at once (a daemon)
    "daemon": BUSY + "import multiprocessing\ndef _start():\n"
    "    multiprocessing.get_context('fork').Process(target=_busy, args=(1e9,)).start()\n"
    "    import os\n    os._exit(0)\n"
    "multiprocessing.get_context('fork').Process(target=_start).start()\n",
}


@pytest.mark.slow
@pytest.mark.parametrize("shape", sorted(UNREAPED))
def test_children_a_worker_never_reaps_are_charged(zygote, tmp_path, shape):
    """The whole process tree's CPU is charged: a child left running, a zombie never reaped
    or a daemon costs the submission's CPU budget like a busy loop in the worker itself."""
    import time

    from grader.transport.processes import Worker

    target = tmp_path / "w" / "exercise1_softmax.py"
    target.parent.mkdir()
    target.write_text(UNREAPED[shape] + "def softmax(x):\n    return x\n")
    w = Worker(zygote, Limits(), tmp_path / "w")
    try:
        if shape == "daemon" and not w.isolation.get("pid"):
            pytest.skip("no PID namespace here: a daemon is nobody's child the worker can name")
        reply = w.request("load", 60.0, path=str(target), module="exercise1_softmax", forbidden=None)
        assert "load_error" not in reply and "error" not in reply, reply
        deadline = time.monotonic() + 120  # however loaded the machine, the child gets 0.5 s of CPU
        while time.monotonic() < deadline:
            w.settle()
            if w.cpu >= 0.5:
                break
            time.sleep(0.2)
        assert w.cpu >= 0.5 and w.spend.cpu >= 0.5, (shape, w.cpu)
    finally:
        w.close()
