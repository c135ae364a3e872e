"""A grading process that has spent far longer on one submission than the others take
is parked: the pool starts another (at most ``jobs`` more), so that a submission that
waits on purpose holds up nobody."""

from grader.batch.pool import PARK_AFTER, Pool, _Process


def _pool(jobs, tasks_started, done=1, elapsed=(0.0, 0)):
    pool = Pool.__new__(Pool)
    pool.jobs, pool.fatal, pool._elapsed, pool._pending = jobs, None, elapsed, []
    pool.procs = {
        i: _Process(proc=None, conn=None, folder=None, zygote=None, task={"student": f"s{i}"}, started=s, done=done)
        for i, s in enumerate(tasks_started)
    }
    started = []
    pool._start = lambda slot: started.append(slot)
    return pool, started


def test_a_long_submission_is_parked_and_another_process_starts(monkeypatch):
    import grader.batch.pool as core

    monkeypatch.setattr(core.time, "monotonic", lambda: 1000.0)
    pool, started = _pool(2, [1000.0 - PARK_AFTER - 1, 999.0])
    assert pool._busy(1000.0) == 1
    pool._pending = ["next"]
    pool._unpark()
    assert started == [2]


def test_no_more_processes_without_a_parked_one_or_beyond_twice_the_jobs(monkeypatch):
    import grader.batch.pool as core

    monkeypatch.setattr(core.time, "monotonic", lambda: 1000.0)
    pool, started = _pool(2, [999.0, 999.5])
    pool._pending = ["next"]
    pool._unpark()
    assert started == []
    pool, started = _pool(2, [0.0, 0.0, 0.0, 0.0])  # four parked: the limit
    pool._pending = ["next"]
    pool._unpark()
    assert started == []
    pool, started = _pool(2, [0.0, 999.0])
    pool._pending = []
    pool._unpark()  # nothing left to grade
    assert started == []


def test_parking_waits_longer_on_a_loaded_machine_and_for_a_first_submission():
    pool, _ = _pool(2, [1000.0 - PARK_AFTER - 1], elapsed=(40.0, 10))  # submissions take 4 s here: park after 16
    assert pool._busy(1000.0) == 1
    pool, _ = _pool(2, [1000.0 - PARK_AFTER - 1], done=0)  # a process's first: collection, warm-up
    assert pool._busy(1000.0) == 1
    pool, _ = _pool(2, [1000.0 - 3 * PARK_AFTER - 1], done=0)
    assert pool._busy(1000.0) == 0
