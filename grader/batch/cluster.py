"""``grade batch --scheduler``: grade a class on a Dask distributed cluster.

The batch process reads the entries, decides who needs grading (keys, resume,
filters) exactly as a local batch does, and hands the resulting task list to
``ClusterPool`` (the same interface as ``grader.batch.pool.Pool``).  Each task
carries the student's exercise files as bytes with their SHA-256 (the batch's
content-addressed copy); a worker never reads SUBMISSIONS, so no shared file
system is assumed.  The reply is the gradebook row with the student's reports
as text, and only this process writes them into --out, as they arrive.

On each Dask worker a ``GradingPlugin`` (a Dask ``WorkerPlugin``, set up once
per worker, not per task) starts one grading process per worker thread
(``grader.batch.cluster_host``: torch, pytest and the suites imported once, a zygote
forking isolated workers).  They are started with ``subprocess``, which works
in Dask's daemonic worker processes where ``multiprocessing`` children are
refused.  A grading process that overruns the wall limit or dies follows the
local pool's rule (``grader.batch.lost``): killed and replaced, a time-out row
for an overrun, the student graded once more after a death, then a crash row.
If the Dask worker itself dies, the scheduler retries the task on another
worker up to its ``distributed.scheduler.allowed-failures`` (``local``
clusters: 1); after that the student gets a crash row and the batch goes on.

A course of the instructor's (``--course DIR``): the grading processes read it from the same
path on every worker (a shared file system, or a copy there); the batch stops, saying which
worker, when one has no course folder at that path, and a worker whose copy differs runs
"another grader" (the fingerprint holds the course's files).

GPU: a worker started with ``--resources GPU=1`` grades with CUDA; a worker
without it hides any GPU from its grading processes (CUDA_VISIBLE_DEVICES="").
When the cluster has GPU workers, every submission is sent to them (resource
``GPU=1``), so every student is graded with the same tests, GPU variants
included; otherwise every submission is graded on the CPU.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from distributed import WorkerPlugin

from grader.batch import lost, protocol
from grader.batch.output import error_row
from grader.errors import ErrorKind

LOCAL_ALLOWED_FAILURES = 1  # a LocalCluster's retries of a task whose worker died
NO_WORKERS_TIMEOUT = 300.0  # seconds without any worker before a batch gives up
READY_TIMEOUT = 600.0  # seconds a grading process may take to import torch and the suites
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# what a grading process needs of a task (grader.batch.command's plan; grader.batch.slots.Slot.finish
# reads each): the same fields as a local batch's, so that every report is the same byte for byte
# (a notebook's notes and cells, the regrade run's mark)
TASK_FIELDS = ("student", "entry", "files", "seed", "key", "run", "notes", "origins")


class ClusterError(Exception):
    """The cluster cannot be used (unreachable, no workers, another grader)."""


def parse_scheduler(text: str):
    """("local", n_workers or None) or ("address", text)."""
    m = re.fullmatch(r"local(?::(\d+))?", text.strip())
    if m:
        n = int(m.group(1)) if m.group(1) else None
        if n is not None and n < 1:
            raise ClusterError("--scheduler local:N needs N >= 1")
        return "local", n
    if re.fullmatch(r"(tcp|tls|inproc|ucx|ws|wss)://\S+", text.strip()):
        return "address", text.strip()
    raise ClusterError(f"--scheduler {text!r} is neither a scheduler address (tcp://HOST:8786) nor local[:N]")


# ---------------------------------------------------------------------------
# on a Dask worker


def host_env(gpu: bool, environ=None, course: str | None = None) -> dict:
    """The environment of a grading process: a worker without the GPU resource
    grades on the CPU, whatever GPU its machine has; it grades the batch's course
    (``course``: its folder, None for the built-in course), whatever the worker's own setting."""
    from grader import settings

    env = dict(os.environ if environ is None else environ)
    settings.export(settings.COURSE, course, env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    env.setdefault("OMP_NUM_THREADS", "1")
    if not gpu:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


class _Host:
    """One grading process (``grader.batch.cluster_host``) owned by a worker thread."""

    def __init__(self, config: dict, gpu: bool, folder: Path):
        self.config = config
        self.gpu = gpu
        self.folder = folder
        self.proc = None
        self.conn = None
        self.info = None
        self._n = 0

    def start(self) -> None:
        from multiprocessing.connection import Connection

        self._n += 1
        folder = self.folder / f"host{self._n}"
        folder.mkdir(parents=True, exist_ok=True)
        ours, theirs = socket.socketpair()
        env = host_env(self.gpu, course=self.config.get("course"))
        self.log = open(folder / "log.txt", "w+b")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader.batch.cluster_host", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
            cwd=folder,
            env=env,
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        limits = self.config["limits"]
        import dataclasses

        limits = dataclasses.replace(limits, hide=tuple(limits.hide) + (str(self.folder),))
        protocol.send_setup(self.conn, protocol.Setup(self.config["exercises"], limits, str(folder / "slot")))
        self.info = None

    def log_tail(self) -> str:
        try:
            self.log.seek(0)
            return self.log.read().decode(errors="replace")[-2000:]
        except Exception:
            return ""

    def ready(self) -> dict:
        if self.proc is None:
            self.start()
        if self.info is None:
            if not self.conn.poll(READY_TIMEOUT):
                raise RuntimeError("the grading process did not start in time\n" + self.log_tail())
            msg = protocol.receive(self.conn)
            if not isinstance(msg, protocol.Ready):
                why = msg.reason if isinstance(msg, protocol.Fatal) else getattr(msg, "detail", "it exited")
                raise RuntimeError(f"the grading process could not start ({why})\n" + self.log_tail())
            self.info = msg.info
        return self.info

    def exitcode(self) -> int | None:
        """How the grading process ended (its exit status; negative: the signal), waiting
        a moment for one whose end of the socket closed first; ``None`` if it runs."""
        try:
            return self.proc.wait(5)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, graceful: bool = False) -> None:
        """Kill the grading process (its zygote and workers die with it); ``graceful``:
        ask an idle one to close its zygote and exit first."""
        if self.proc is not None:
            try:
                if graceful and self.info is not None:
                    protocol.send_task(self.conn, protocol.STOP)
                    self.proc.wait(5)
            except Exception:
                pass
            try:
                self.proc.kill()
                self.proc.wait(10)
            except Exception:
                pass
            try:
                self.conn.close()
                self.log.close()
            except Exception:
                pass
            shutil.rmtree(self.folder / f"host{self._n}", ignore_errors=True)
        self.proc = self.conn = self.info = None


class GradingPlugin(WorkerPlugin):
    """Set up once per Dask worker: one warm grading process per worker thread."""

    idempotent = False

    def __init__(self, config: dict):
        self.config = config  # exercises, limits, fingerprint, course (its folder; None: the built-in one)

    def setup(self, worker):
        resources = getattr(worker.state, "total_resources", None) or getattr(worker, "total_resources", {}) or {}
        self.gpu = resources.get("GPU", 0) > 0
        shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
        self.folder = Path(tempfile.mkdtemp(prefix="grader-dask-", dir=shm))
        self.free: queue.Queue = queue.Queue()
        self.missing = missing_course(self.config.get("course"))
        threads = 0 if self.missing else worker.state.nthreads  # no grading process without the course
        self.hosts = [_Host(self.config, self.gpu, self.folder / f"t{i}") for i in range(threads)]
        for h in self.hosts:
            h.start()  # they import torch in the background; the first task waits for its own
            self.free.put(h)

    def teardown(self, worker):
        for h in self.hosts:
            h.stop(graceful=True)
        shutil.rmtree(self.folder, ignore_errors=True)

    def grade(self, task: dict, wall_limit: float) -> dict:
        if self.missing:
            return {"_no_course": self.missing}
        for name, data in task["files"].items():
            if hashlib.sha256(data).hexdigest() != task["sha256"][name]:
                raise RuntimeError(f"{name} arrived damaged (its SHA-256 differs)")
        host = self.free.get()
        try:
            return self._grade(host, task, wall_limit)
        finally:
            self.free.put(host)

    def _grade(self, host: _Host, task: dict, wall_limit: float) -> dict:
        t = {k: task[k] for k in TASK_FIELDS if k in task}
        deaths = lost.Deaths()  # the local pool's rule for a grading process that died
        while True:
            info = host.ready()
            if info["fingerprint"] != self.config["fingerprint"]:
                return {"_mismatch": info["fingerprint"]}
            start = time.monotonic()
            protocol.send_task(host.conn, t)
            while True:
                msg = protocol.receive(host.conn) if _poll(host.conn, 0.5) else None
                if isinstance(msg, protocol.Done):
                    return dict(msg.row, _info={"isolation": info["isolation"], "cuda": info["cuda"]})
                if isinstance(msg, protocol.Fatal):
                    host.stop()
                    raise RuntimeError(f"the grading process failed: {msg.reason}")
                if isinstance(msg, protocol.Gone) or host.proc.poll() is not None:
                    break
                if time.monotonic() - start > wall_limit:
                    host.stop()
                    return lost.overran_row(task, wall_limit, time.monotonic() - start)
            row = deaths.died(task, host.exitcode())
            host.stop()
            if row is not None:
                return row


def missing_course(course: str | None) -> str | None:
    """What is wrong with the course folder ``course`` on this machine, or None (also for the built-in course)."""
    if course is None or (Path(course) / "course.toml").is_file():
        return None
    return f"has no course folder {course} (no course.toml there)"


def _poll(conn, seconds: float) -> bool:
    """Whether ``conn`` has news (a message, or its end closed) within ``seconds``."""
    try:
        return conn.poll(seconds)
    except (EOFError, OSError):
        return True


def grade_task(task: dict, wall_limit: float) -> dict:
    """The Dask task: grade one student on this worker's warm grading process."""
    from distributed import get_worker

    worker = get_worker()
    row = worker.plugins[task["plugin"]].grade(task, wall_limit)
    row["worker"] = worker.address  # kept in the student's state file (.batch/state), not in the report
    return row


# ---------------------------------------------------------------------------
# in the batch process


class ClusterPool:
    """``grader.batch.pool.Pool``'s interface, on a Dask cluster."""

    def __init__(self, scheduler: str, limits, exercises, out, wall_limit: float, fp: str):
        self.kind, self.target = parse_scheduler(scheduler)
        self.scheduler = scheduler
        self.limits = limits
        self.exercises = exercises
        self.out = out
        self.wall_limit = wall_limit
        self.fp = fp
        self.client = self.cluster = None
        self.isolation = None
        self.fatal = None
        self.gpu_workers = 0
        self.plugin = None
        self.course = None  # the course folder the workers read (None: the built-in course)

    def prestart(self, n: int) -> None:
        import dask
        from distributed import Client, LocalCluster

        if self.kind == "local":
            n_workers = self.target or len(os.sched_getaffinity(0))
            with dask.config.set(
                {
                    "distributed.scheduler.allowed-failures": LOCAL_ALLOWED_FAILURES,
                    "distributed.scheduler.worker-saturation": 1.0,
                    "distributed.worker.profile.enabled": False,
                }
            ):  # it samples every 10 ms
                self.cluster = LocalCluster(
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.CRITICAL,
                    memory_limit=0,
                )
                self.client = Client(self.cluster)
        else:
            try:
                self.client = Client(self.target, timeout=20)
            except (OSError, TimeoutError) as e:
                raise ClusterError(
                    f"cannot reach the Dask scheduler at {self.target} ({e}); is `dask scheduler` running there?"
                ) from None
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        if not workers:
            raise ClusterError(
                f"the Dask scheduler at {self.target} has no workers; start some with `dask worker {self.target}`"
            )
        self.gpu_workers = sum(1 for w in workers.values() if (w.get("resources") or {}).get("GPU", 0) > 0)
        threads = sum(w.get("nthreads", 1) for w in workers.values())
        from grader.course import current

        course = current()
        self.course = None if course.builtin else str(course.root)
        config = {
            "exercises": [ex.name for ex in self.exercises],
            "limits": self.limits,
            "fingerprint": self.fp,
            "course": self.course,
        }
        # one plugin (and set of grading processes) per grading setup: batches with other
        # exercises or limits can share the cluster
        self.plugin = "nngrade-" + hashlib.sha256(repr(sorted(config.items())).encode()).hexdigest()[:12]
        self.client.register_plugin(GradingPlugin(config), name=self.plugin)
        where = (
            f"{self.gpu_workers} with a GPU (resource GPU): every submission goes to them, GPU variants included"
            if self.gpu_workers
            else "no GPU worker: graded on the CPU"
        )
        print(
            f"grade batch: Dask cluster {self.scheduler}: {len(workers)} workers, {threads} threads; {where}",
            file=sys.stderr,
        )

    def run(self, tasks: list, on_done) -> None:
        from distributed import as_completed

        resources = {"GPU": 1} if self.gpu_workers else None
        futures = {}
        for t in tasks:
            payload = {k: t[k] for k in TASK_FIELDS if k in t}
            payload.update(plugin=self.plugin, sha256={n: hashlib.sha256(d).hexdigest() for n, d in t["files"].items()})
            name = f"nngrade-{t['key'][:16]}-{hashlib.sha256(t['student'].encode()).hexdigest()[:8]}"
            fut = self.client.submit(grade_task, payload, self.wall_limit, key=name, pure=False, resources=resources)
            futures[fut] = t
        stop = threading.Event()
        threading.Thread(target=self._watch, args=(futures, stop), daemon=True, name="nngrade-watch").start()
        try:
            for fut in as_completed(list(futures)):
                if self.fatal:
                    break
                self._collect(fut, futures.pop(fut), on_done)
        finally:
            stop.set()
        if self.fatal:
            for f in futures:
                f.cancel()

    def _watch(self, futures: dict, stop) -> None:
        """A cluster whose workers are all gone would keep the batch waiting forever."""
        lost_since = None
        while not stop.wait(10):
            try:
                workers = self.client.scheduler_info(n_workers=-1)["workers"]
            except Exception:
                workers = {}
            now = time.monotonic()
            if workers:
                lost_since = None
            elif lost_since is None:
                lost_since = now
            elif now - lost_since > NO_WORKERS_TIMEOUT:
                self.fatal = (
                    f"the Dask cluster has had no workers for {NO_WORKERS_TIMEOUT:.0f} s; "
                    f"{len(futures)} students are not graded (run the same command again to grade them)"
                )
                for f in futures.copy():
                    f.cancel()
                return

    def _collect(self, fut, t: dict, on_done) -> None:
        from distributed.scheduler import KilledWorker

        try:
            row = fut.result()
        except KilledWorker:
            row = lost.died_row(t, lost.Process.CLUSTER_WORKER)  # the scheduler's retries are spent
        except Exception as e:
            if "deserializ" in str(e):  # the scheduler (or a worker) cannot import grader.batch.cluster
                self.fatal = (
                    f"the Dask cluster cannot load the grader's tasks ({str(e).splitlines()[0]}); "
                    "install the same nngrade ('pip install nngrade[cluster]') where `dask scheduler` "
                    "and every `dask worker` run"
                )
                return
            row = error_row(
                t,
                ErrorKind.INTERNAL,
                f"internal grader error on the cluster ({type(e).__name__}: "
                f"{str(e).splitlines()[0] if str(e) else ''})",
            )
        fut.release()
        if "_no_course" in row:
            self.fatal = (
                f"the Dask worker {row.get('worker', '?')} {row['_no_course']}: a batch with --course needs the "
                "course folder at the same path on every worker machine (a shared file system, or a copy there)"
            )
            return
        if "_mismatch" in row:
            self.fatal = (
                f"the cluster's workers run another grader ({row['_mismatch']}) than this batch "
                f"({self.fp}); install the same nngrade on every worker"
                + ("" if self.course is None else ", and the same copy of the course folder")
            )
            return
        self._write(row)
        on_done(row)

    def _write(self, row: dict) -> None:
        from grader.atomic import write_atomic

        info = row.pop("_info", None)
        report = row.pop("_report", None)
        if info is not None and self.isolation is None:
            self.isolation = info["isolation"]
        if report is not None:
            js, html = self.out.report_paths(row["student"])
            write_atomic(js, report["json"])
            write_atomic(html, report["html"])
        else:
            self.out.remove_report(row["student"])
        self.out.write_state(row)

    def close(self) -> None:
        if self.client is not None and self.cluster is None and self.plugin is not None:
            try:  # its grading processes would hold the workers' memory after the batch
                self.client.unregister_worker_plugin(self.plugin)
            except Exception:
                pass
        for what in (self.client, self.cluster):
            if what is not None:
                try:
                    what.close()
                except Exception:
                    pass
        self.client = self.cluster = None
