"""Slots held for minutes: replies slowed to just under the call
limit, CPU hogs pinning themselves and replies amplified to the size limit, in a
`grade batch` beside honest students.  Each hostile submission is kept to its
budgets (what the batch's state row says it was charged), its exercises end in
"budget used up" verdicts, the honest students' reports are byte for byte those
of the same class without them, and no process is left behind."""

import json
import sys
from pathlib import Path

import pytest

from grader.exercises import lookup
from grader.transport.limits import Limits
from grader.transport.session import CPU_SLACK
from tests.batch.test_batch import SECRET, batch, write
from tests.conftest import ROOT, live_processes

# Slow by design: a batch of hostile students, each run into its budgets.
pytestmark = pytest.mark.slow

sys.path.insert(0, str(ROOT / "bench"))
from hostile_shapes import SHAPES, hostile_source  # noqa: E402

EXERCISES = ["exercise1", "exercise3", "exercise5"]
SCALE = 0.2  # --timeout-scale: a call limit of 2 s, budgets a fifth of the defaults
MARK = "hostile-budget-test"  # in the batch's environment: its processes (zygotes' LC_ variables) show it
BUGS = {
    "exercise1": ("keepdim=True", "keepdim=False"),
    "exercise3": (".mean()", ".sum()"),
    "exercise5": ("X.clamp(min=0)", "X.clamp(min=0.1)"),
}


def _honest(subs):
    for i in range(6):
        files = {}
        for name in EXERCISES:
            ex = lookup(name)
            src = (ROOT / "solutions" / ex.file).read_text()
            if i % 2 and name in BUGS:  # every other student has a common mistake
                src = src.replace(*BUGS[name])
            files[ex.file] = src
        write(subs / f"honest{i}", files)


def _survivors() -> list:
    """Live processes started by a batch of this test: the grading processes, zygotes and
    workers all hold its mark in their environment as they were started."""
    return live_processes(lambda pid: MARK.encode() in Path(f"/proc/{pid}/environ").read_bytes(), poll=0.2)


def _grade(subs, out):
    r = batch(
        subs,
        "--out",
        out,
        "--exercises",
        *EXERCISES,
        "--seed-secret",
        SECRET,
        "--jobs",
        "2",
        "--timeout-scale",
        str(SCALE),
        timeout=600,
        env={"LC_HOSTILE_MARK": MARK},
    )
    assert r.returncode in (0, 1), r.stderr
    states = [json.loads(f.read_text()) for f in (out / ".batch" / "state").glob("*.json")]
    return {s["student"]: s for s in states}


def test_hostile_students_are_kept_to_their_budgets(tmp_path):
    limits = Limits().scaled(SCALE)
    plain, mixed = tmp_path / "plain", tmp_path / "mixed"
    _honest(plain)
    _honest(mixed)
    for shape in SHAPES:
        for k in range(2):
            write(
                mixed / f"{shape}{k}",
                {
                    lookup(n).file: hostile_source(
                        (ROOT / "solutions" / lookup(n).file).read_text(),
                        shape,
                        limits.call_timeout,
                        limits.reply_bytes,
                    )
                    for n in EXERCISES
                },
            )
    _grade(plain, tmp_path / "out-plain")
    states = _grade(mixed, tmp_path / "out-mixed")
    assert _survivors() == []

    # the honest students: byte for byte the reports they get without the hostile ones
    for i in range(6):
        for suffix in (".json", ".html"):
            name = f"reports/honest{i}{suffix}"
            assert (tmp_path / "out-plain" / name).read_bytes() == (tmp_path / "out-mixed" / name).read_bytes(), name

    n = len(EXERCISES)
    for shape in SHAPES:
        for k in range(2):
            row = states[f"{shape}{k}"]
            assert row["status"] == "graded", row
            cost = row["cost"]
            # the budgets, charged as the state row records them: one request may run over by what
            # it was allowed when it started (CPU_SLACK times the CPU left), plus a process's start
            assert cost["cpu"] <= CPU_SLACK * (limits.submission_cpu + n * limits.late_cpu) + 1.0, (shape, cost)
            assert cost["wall"] <= limits.submission_budget + n * limits.late_budget + 2.0, (shape, cost)
            # bytes are checked before each request: each phase may end with one reply more
            assert cost["bytes"] <= limits.submission_bytes + limits.reply_bytes + n * (
                limits.late_bytes + limits.reply_bytes
            ), (shape, cost)
            report = json.loads((tmp_path / "out-mixed" / "reports" / f"{shape}{k}.json").read_text())
            for ex in report["exercises"]:
                assert ex["score"] < ex["max_score"], (shape, ex["name"], ex["score"])
                budget = [t for t in ex["tests"] if t.get("kind") == "budget"]
                if shape != "amplified":  # its replies are wrong: each test fails on its value first
                    assert budget and all("used up its" in t["message"] for t in budget), (shape, ex)
