"""grader.batch.slots.grading_process: the one life of a grading process, local (forked by the pool)
or on a Dask worker (cluster_host)."""

import signal
from multiprocessing import Pipe

import pytest


class _Zygote:
    def __init__(self):
        self.closed = 0

    def close(self):
        self.closed += 1


class _Slot:
    def __init__(self, zygote, fail=None):
        self.zygote, self.fail, self.served = zygote, fail, False

    def serve(self, conn):
        self.served = True
        if self.fail:
            raise self.fail


@pytest.fixture
def run():
    from grader.batch.slots import grading_process

    before = signal.getsignal(signal.SIGINT)
    ours, theirs = Pipe()
    try:
        yield lambda start, make: (grading_process(theirs, start, make), ours)[1]
    finally:
        signal.signal(signal.SIGINT, before)  # it ignores Ctrl-C: the batch process handles it


def test_ready_then_serves_then_closes_the_zygote(run):
    z = _Zygote()
    slots = []

    def make(zygote):
        slots.append(_Slot(zygote))
        return slots[0], {"mode": "namespaces"}

    conn = run(lambda: z, make)
    assert conn.recv() == ("ready", {"mode": "namespaces"}) and not conn.poll()
    assert slots[0].served and z.closed == 1


@pytest.mark.parametrize("where", ["zygote", "slot", "serve"])
def test_a_failure_of_its_own_is_one_fatal_message_and_the_zygote_is_closed(run, where):
    z = _Zygote()

    def start():
        if where == "zygote":
            raise RuntimeError("the grading worker could not start")
        return z

    def make(zygote):
        if where == "slot":
            raise ImportError("No module named 'grader.suites.test_exercise1'")
        return _Slot(zygote, fail=OSError("disk full") if where == "serve" else None), {}

    conn = run(start, make)
    msgs = []
    while conn.poll():
        msgs.append(conn.recv())
    fatal = {
        "zygote": "RuntimeError: the grading worker could not start",
        "slot": "ImportError: No module named 'grader.suites.test_exercise1'",
        "serve": "OSError: disk full",
    }
    assert msgs[-1] == ("fatal", fatal[where]) and len(msgs) == (2 if where == "serve" else 1)
    assert z.closed == (0 if where == "zygote" else 1)


def test_the_batch_going_away_ends_it_quietly(run):
    z = _Zygote()
    conn = run(lambda: z, lambda zygote: (_Slot(zygote, fail=EOFError()), {}))
    assert conn.recv() == ("ready", {}) and not conn.poll()
    assert z.closed == 1


def test_the_zygote_a_slot_restarted_is_the_one_closed(run):
    first, second = _Zygote(), _Zygote()

    def make(zygote):
        slot = _Slot(zygote)
        slot.zygote = second  # its first zygote died under a student (Slot.restart_zygote)
        return slot, {}

    run(lambda: first, make)
    assert (first.closed, second.closed) == (0, 1)
