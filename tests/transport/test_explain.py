"""grader.transport.explain: what the worker reports becomes a StudentError of the right
kind, with a message and a hint a student can act on."""

import signal

from grader.errors import ErrorKind
from grader.transport import explain
from grader.transport.limits import Limits


def test_how_a_worker_ended_in_words():
    assert explain.status_text(None) == "it vanished"
    assert explain.status_text({"exit": 3}) == "exit status 3"
    assert explain.status_text({"signal": int(signal.SIGXCPU)}) == "used more CPU time than the limit allows"
    assert explain.status_text({"signal": int(signal.SIGUSR1)}) == "killed by SIGUSR1"
    assert explain.status_text({"signal": 999}) == "killed by signal 999"


def test_a_crash_names_the_signal_and_what_it_printed():
    e = explain.call_died("softmax(x)", {"signal": int(signal.SIGKILL)}, "hello")
    assert e.kind is ErrorKind.CRASH and e.message.startswith("softmax(x): your code ended the worker process")
    assert e.message.endswith("\nIt printed:\nhello") and "tensor far larger" in e.hint
    assert "exit()" in explain.call_died("f(x)", {"exit": 0}, "").hint


def test_the_stub_is_not_implemented_and_other_exceptions_are_exceptions():
    stub = explain.raised(
        {"type": "NotImplementedError", "message": "", "file": "ex.py", "line": 3, "code": "raise NotImplementedError"},
        "f(x)",
        "ex.py",
        1 << 30,
    )
    assert stub.kind is ErrorKind.NOT_IMPLEMENTED and "at ex.py, line 3" in stub.message
    oom = explain.raised({"type": "RuntimeError", "message": "out of memory"}, "f(x)", "ex.py", 512 << 20)
    assert oom.kind is ErrorKind.EXCEPTION and "512 MiB" in oom.hint
    sig = explain.raised(
        {"type": "TypeError", "message": "takes 1 positional argument", "signature": "(x)"}, "f(x, 1)", "ex.py", 1 << 30
    )
    assert sig.hint == "Check the signature the exercise asks for. Your function's signature is (x)."
    torch_hint = explain.raised(
        {"type": "IndexError", "message": "Dimension out of range (expected ...)"}, "f(x)", "ex.py", 1 << 30
    )
    assert "dim=-1" in torch_hint.hint


def test_worker_records_are_clipped_before_they_reach_a_message():
    e = explain.raised({"type": "E" * 10_000, "message": "m" * 100_000, "line": "7"}, "f", "ex.py", 1 << 30)
    assert len(e.message) < 20_000 and "line" not in e.message


def test_load_failures():
    enc = explain.load_failed({"kind": "encoding", "file": "ex.py", "line": 2, "message": "bad byte"}, "ex.py")
    assert enc.kind is ErrorKind.LOAD and "not UTF-8" in enc.message
    syn = explain.load_failed(
        {"kind": "syntax", "file": "ex.py", "line": 4, "message": "invalid syntax", "code": "def f(:"}, "ex.py"
    )
    assert syn.message == "ex.py, line 4: invalid syntax\n    def f(:" and "python ex.py" in syn.hint
    imp = explain.load_failed(
        {"kind": "import", "type": "ModuleNotFoundError", "message": "No module named 'exercise1_softmax'"}, "ex2.py"
    )
    assert "graded on its own" in imp.hint
    assert explain.missing_file("ex.py", "/sub").kind is ErrorKind.MISSING_FILE


def test_budget_messages_name_the_budget_that_ran_out():
    limits = Limits(exercise_budget=30.0, submission_budget=10.0, late_budget=5.0)
    assert (
        "this submission used up its time budget (10 s for all exercises, then 5 s"
        in explain.time_budget_spent("not run", limits, True).message
    )
    assert "this exercise used up its time budget (30 s)" in explain.time_budget_spent("not run", limits, False).message
    assert explain.too_many_timeouts(2).kind is ErrorKind.BUDGET
    assert "512 MiB for all exercises, then 16 MiB" in explain.data_budget_spent(Limits()).message


def test_a_time_limit_is_said_as_set():
    """A limit under a second is not rounded to 0 s, nor a whole one given decimals."""
    from grader.transport.explain import call_timed_out

    said = [str(call_timed_out("f(x)", s)) for s in (0.5, 2.0, 3600)]
    assert [m.split(" within ")[1].split(" s")[0] for m in said] == ["0.5", "2", "3600"], said
