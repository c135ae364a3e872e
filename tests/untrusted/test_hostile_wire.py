"""What crosses the boundary from student code is bounded: sizes, time, and what
it is named. Each hostile exercise 1 scores 0
with a verdict on it, never an internal error, and exercise 2 beside it keeps its 10."""

import socket
import struct
import threading
import time

import pytest

from grader.feedback import textsafe
from grader.feedback.report import render
from grader.transport.limits import Limits
from grader.wire import codec
from tests.conftest import exercise_of
from tests.untrusted.test_hostile import CORRECT_LOG_SOFTMAX

FAST = Limits(call_timeout=2.0, load_timeout=4.0, exercise_budget=20.0, memory_bytes=512 << 20)


def _grade(grade_folder, submission, source, limits=FAST):
    folder = submission({"exercise1_softmax.py": source, "exercise2_log_softmax.py": CORRECT_LOG_SOFTMAX})
    report = grade_folder(folder, "exercise1", "exercise2", limits=limits)
    ex1, ex2 = exercise_of(report, "exercise1"), exercise_of(report, "exercise2")
    assert ex1["score"] == 0 and ex2["score"] == 10
    assert ex1["status"] != "error" and not any(t.get("kind") == "internal" for t in ex1["tests"]), ex1
    return report, ex1


@pytest.mark.slow
def test_a_huge_exception_class_name_gives_a_small_report(grade_folder, submission):
    report, ex1 = _grade(
        grade_folder,
        submission,
        """
        E = type("E" * (4 << 20), (Exception,), {})
        def softmax(x):
            raise E("M" * (4 << 20))
    """,
    )
    for fmt in ("text", "markdown", "html", "json"):
        assert len(render(report, fmt)) < 300_000, fmt
    msg = next(t["message"] for t in ex1["tests"] if t["status"] == "failed")
    assert "more characters cut" in msg and len(msg) < 2 * textsafe.MAX_TEXT + 500


@pytest.mark.slow
@pytest.mark.parametrize(
    "make", ["torch.empty(x.shape, device='meta')", "torch.empty((1 << 30, 1 << 30), device='meta')"]
)
def test_a_meta_tensor_as_a_result_is_a_verdict(grade_folder, submission, make):
    _, ex1 = _grade(
        grade_folder,
        submission,
        f"""
        import torch
        def softmax(x):
            return {make}
    """,
    )
    assert any(
        "data-free 'meta' device" in t["message"] or "meta tensor of an impossible size" in t["message"]
        for t in ex1["tests"]
    )


def test_impossible_meta_shapes_are_refused_by_the_wire():
    body = {"value": {"$tensor": [0, 0], "dtype": "float32", "shape": [2**39] * 16, "meta": {"device": "meta"}}}
    with pytest.raises(codec.ProtocolError):
        codec.unpack(body, b"")


@pytest.mark.slow
def test_a_dripped_reply_times_out_at_the_call_limit(grade_folder, submission):
    # the reply is written to the grader's socket a byte at a time, each within the call
    # limit, the whole in 5 x the limit: without a deadline on the whole reply it would be read
    _, ex1 = _grade(
        grade_folder,
        submission,
        """
        import json, os, stat, struct, time
        def sockets():
            out = []
            for fd in range(3, 256):
                try:
                    if stat.S_ISSOCK(os.fstat(fd).st_mode):
                        out.append(fd)
                except OSError:
                    pass
            return out
        def softmax(x):
            body = json.dumps({"value": None, "pad": " " * 20}).encode()
            frame = struct.pack("!IQ", len(body), 0) + body
            fds = sockets()
            for i in range(len(frame)):
                for fd in fds:
                    try:
                        os.write(fd, frame[i:i + 1])
                    except OSError:
                        pass
                time.sleep(10.0 / len(frame))
            time.sleep(60)
    """,
    )
    ran = [t for t in ex1["tests"] if t["status"] != "skipped"]
    assert ran[0]["kind"] == "timeout" and "did not finish within 2 s" in ran[0]["message"], ran[0]["message"]
    assert all(t.get("kind") in ("timeout", "budget") for t in ran)


def test_the_whole_frame_is_read_by_the_deadline():
    a, b = socket.socketpair()
    body = b'{"value":1}'
    frame = struct.pack("!IQ", len(body), 0) + body

    def drip():
        for i in range(len(frame)):
            try:
                a.sendall(frame[i : i + 1])
            except OSError:
                return
            time.sleep(0.1)

    t = threading.Thread(target=drip)
    t.start()
    b.settimeout(0.5)
    try:
        with pytest.raises(socket.timeout):
            codec.recv(b, deadline=time.monotonic() + 0.5)
    finally:
        a.close()
        b.close()
        t.join()


@pytest.mark.slow
def test_an_oversized_reply_is_refused_unread(grade_folder, submission):
    _, ex1 = _grade(
        grade_folder,
        submission,
        """
        import torch
        def softmax(x):
            return torch.zeros(1 << 20)   # 4 MiB, over this grading's 1 MiB
    """,
        limits=Limits(call_timeout=2.0, load_timeout=4.0, exercise_budget=20.0, reply_bytes=1 << 20),
    )
    assert any("message too large" in t["message"] for t in ex1["tests"])


@pytest.mark.slow
@pytest.mark.parametrize(
    "cost",
    [
        "time.sleep(0.3)",  # a reply slowed to under the call limit
        "end = time.monotonic() + 0.3\n    while time.monotonic() < end: pass",  # a CPU hog
    ],
)
def test_a_submission_is_kept_to_its_time_budget(grade_folder, submission, cost):
    limits = Limits(call_timeout=2.0, load_timeout=4.0, exercise_budget=20.0, submission_budget=1.5, late_budget=0.5)
    folder = submission(
        {
            "exercise1_softmax.py": f"""
import time, torch
def softmax(x):
    {cost}
    e = torch.exp(x - x.max(-1, keepdim=True).values)
    return e / e.sum(-1, keepdim=True)
""",
            "exercise2_log_softmax.py": f"""
import time, torch
def log_softmax(x):
    {cost}
    m = x.max(-1, keepdim=True).values
    return x - m - torch.log(torch.exp(x - m).sum(-1, keepdim=True))
""",
        }
    )
    report = grade_folder(folder, "exercise1", "exercise2", limits=limits)
    for name in ("exercise1", "exercise2"):
        ex = exercise_of(report, name)
        budget = [t for t in ex["tests"] if t.get("kind") == "budget"]
        assert budget and all(
            "used up its time budget (1.5 s for all exercises, then 0.5 s for each exercise)" in t["message"]
            for t in budget
        ), ex
    # exercise 2 started after the submission's budget ran out: it had 0.5 s, a call or two
    ex2 = exercise_of(report, "exercise2")
    assert sum(t["status"] == "passed" for t in ex2["tests"]) <= 2


@pytest.mark.slow
def test_amplified_replies_are_kept_to_the_data_budget(grade_folder, submission):
    limits = Limits(
        call_timeout=2.0,
        load_timeout=4.0,
        exercise_budget=20.0,
        reply_bytes=8 << 20,
        submission_bytes=20 << 20,
        late_bytes=2 << 20,
    )
    _, ex1 = _grade(
        grade_folder,
        submission,
        """
        import torch
        def softmax(x):
            return torch.zeros(7 << 17, dtype=torch.float64)  # 7 MiB, just under the limit
    """,
        limits=limits,
    )
    assert any(
        "used up its data budget (20 MiB for all exercises, then 2 MiB for each exercise)" in t["message"]
        for t in ex1["tests"]
    )


def test_a_batch_entry_named_with_backslashes_is_graded(tmp_path, monkeypatch):
    import tempfile

    from grader.batch.output import Output
    from grader.batch.slots import Slot

    monkeypatch.setattr(tempfile, "tempdir", tempfile.tempdir)  # a Slot sets it for its grading process
    out = Output(tmp_path / "out")
    slot = Slot(tmp_path / "slot", Limits(), [], out, None)
    student = "a\\1b\\g<0>\\n"
    report = {
        "score": 1.0,
        "max_score": 10,
        "exercises": [],
        "seed": 0,
        "submission": str(slot.sub),
        "grader_version": "x",
        "torch_version": "x",
        "cuda": False,
        "note": f"{slot.sub}/x.py",
    }
    row = slot.finish({"student": student, "entry": student + "/", "key": "k", "seed": 0}, report, 0.1)
    assert row["status"] == "graded"
    assert out.read_report(student).extra["note"] == student + "/x.py"


MEMORY_PROBE = r"""
import resource, sys, textwrap
from pathlib import Path
from grader.exercises import lookup
from grader.harness.run import grade
from grader.transport.limits import Limits
from grader.transport.processes import Zygote

folder = Path(sys.argv[1])
with Zygote() as z:
    z.wait_ready()
    import torch  # what grading needs anyway, before the baseline
    grade([lookup("exercise2")], folder, zygote=z)  # warm: the suites' own memory
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = grade([lookup("exercise1")], folder, zygote=z, limits=Limits(call_timeout=5.0))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(report.exercises[0].score, (after - before) >> 10)
"""


@pytest.mark.slow
def test_the_graders_memory_stays_bounded_whatever_the_worker_sends(submission):
    import subprocess
    import sys

    from tests.conftest import ROOT

    folder = submission(
        {
            "exercise1_softmax.py": """
        import torch
        def softmax(x):
            return torch.ones(32 << 20)   # 128 MiB a reply, over the 64 MiB limit
    """,
            "exercise2_log_softmax.py": CORRECT_LOG_SOFTMAX,
        }
    )
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(folder)], cwd=ROOT, capture_output=True, text=True, timeout=280
    )
    assert out.returncode == 0, out.stderr[-2000:]
    score, grown_mib = out.stdout.split()
    assert float(score) == 0
    assert int(grown_mib) < 96, f"the grader grew by {grown_mib} MiB reading 128 MiB replies"


@pytest.mark.slow
def test_a_file_too_deeply_nested_to_scan_is_still_graded(grade_folder, submission):
    from tests.conftest import ROOT

    source = (ROOT / "solutions" / "exercise1_softmax.py").read_text() + "\nDEEP = " + "-" * 1200 + "1\n"
    folder = submission({"exercise1_softmax.py": source})
    ex1 = exercise_of(grade_folder(folder, "exercise1", limits=FAST), "exercise1")
    assert not any(t.get("kind") == "internal" for t in ex1["tests"]) and ex1["status"] != "error", ex1
    assert ex1["score"] == 10
