"""The processes on the grader's side of the trust boundary.

``Zygote`` starts the warm process (``grader.untrusted.worker``) that imports torch once
and forks a fresh, limited worker on request; ``Worker`` is one such forked process
holding (at most) one student file: it sends requests and decodes replies with
``grader.wire.codec`` (plain data only), timed and sized against ``Limits`` and the
submission's ``Spend``.  A reply late or lost raises ``TimedOut`` or ``Died``, which
``grader.transport.session`` turns into what the student reads.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from grader import settings
from grader.errors import ErrorKind, StudentError
from grader.transport.limits import Limits, Spend
from grader.wire import codec

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_CPUS = os.cpu_count() or 1  # a worker spends at most this many CPU seconds a second
UNREAD_WALL = 0.25  # seconds of a worker's requests after which its CPU time is read anyway
REPLY_JSON = 16 << 20  # bytes of JSON in one reply (the rest of Limits.reply_bytes is tensors' bytes)


# The zygote's environment, from an allowlist (names, and prefixes ending in "_"):
# what Python, torch and the GPU need; never the grader's secrets or tokens.
ZYGOTE_ENV = (
    "HOME",
    "LANG",
    "LANGUAGE",
    "LC_",
    "TZ",
    "TMPDIR",
    "PYTHONPATH",
    "PYTHONHASHSEED",
    "PYTHONIOENCODING",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "CUDA_",
    "NVIDIA_",
    "LD_LIBRARY_PATH",
    settings.NO_FREEZE.name,
    settings.CGROUP.name,
)
# Its PATH is a fixed one, not the grader's: a grader run from a virtual environment inside the
# course's checkout has that folder on its PATH (and in VIRTUAL_ENV, which Python does not need:
# the interpreter finds its venv from pyvenv.cfg), and what a process started with stays
# readable in /proc/self/environ.
ZYGOTE_PATH = "/usr/local/bin:/usr/bin:/bin"


def zygote_environment() -> dict:
    env = {
        k: v for k, v in os.environ.items() if any(k == n or (n.endswith("_") and k.startswith(n)) for n in ZYGOTE_ENV)
    }
    env["PATH"] = ZYGOTE_PATH
    return env


class Zygote:
    """A process that has imported torch and forks a fresh worker on request."""

    def __init__(self, preload: bool = False, many: bool = False, fork: bool = False, warm_meta: bool = False):
        """``preload``: import in the zygote what workers would each import lazily
        (torch.optim's first step takes seconds); worth it when it forks many.
        ``many``: it will fork many workers (a batch): spend half a second once
        making each fork and exit cheaper (huge pages, ``grader.untrusted.worker``).
        ``fork``: fork it from this process, which has imported torch and no answer
        yet, instead of starting an interpreter; ``warm_meta``: run the meta-device
        operations of the device tests once in it (``grader.untrusted.startup``)."""
        self._ctrl, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._dir = tempfile.mkdtemp(prefix="grader-zygote-")
        self._stderr = open(os.path.join(self._dir, "stderr.txt"), "w+b")
        env = zygote_environment()
        for setting, on in (
            (settings.ZYGOTE_PRELOAD, preload),
            (settings.ZYGOTE_HUGEPAGES, many),
            (settings.ZYGOTE_WARM_META, warm_meta),
        ):
            settings.export(setting, "1" if on else None, env)
        # A checkout: the zygote imports grader from its working folder (``-m`` puts it first
        # on sys.path), not through PYTHONPATH, which every worker's environment would show.
        checkout = (PACKAGE_ROOT / "pyproject.toml").is_file()
        env.setdefault("OMP_NUM_THREADS", "1")
        self.proc = None
        if fork:
            from grader.untrusted.startup import fork_zygote

            self.proc = fork_zygote(child.fileno(), self._stderr.fileno(), self._dir, env)
        if self.proc is None:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "grader.untrusted.worker", str(child.fileno())],
                pass_fds=[child.fileno()],
                stdin=subprocess.DEVNULL,
                stdout=self._stderr,
                stderr=self._stderr,
                cwd=PACKAGE_ROOT if checkout else self._dir,
                env=env,
            )
        child.close()
        self._lock = threading.Lock()
        self._ready = False

    def wait_ready(self, timeout: float = 180.0) -> None:
        if self._ready:
            return
        self._ctrl.settimeout(timeout)
        try:
            data = self._ctrl.recv(4096)
        except TimeoutError:
            data = b""
        if not data:
            self._stderr.seek(0)
            err = self._stderr.read().decode(errors="replace")[-3000:]
            raise RuntimeError(f"the grading worker could not start (is torch installed?)\n{err}")
        self._ready = True

    def spawn(self, limits: dict):
        with self._lock:
            self.wait_ready()
            self._ctrl.settimeout(30)
            self._ctrl.sendall(json.dumps({"limits": limits}).encode())
            msg, fds, _flags, _addr = socket.recv_fds(self._ctrl, 4096, 2)
        if len(fds) != 2:
            raise RuntimeError("the grading worker did not answer")
        pid = json.loads(msg)["pid"]
        return pid, socket.socket(fileno=fds[0]), socket.socket(fileno=fds[1])

    def preload_now(self) -> None:
        """Have it preload (as ``preload=True`` would) now, while nobody waits for it."""
        with self._lock:
            self.wait_ready()
            self._ctrl.sendall(json.dumps({"op": "preload"}).encode())

    def close(self) -> None:
        # The zygote holds no state worth a graceful exit (tearing torch down
        # takes most of a second); its workers die with it (PR_SET_PDEATHSIG).
        self._ctrl.close()
        self.proc.kill()
        self.proc.wait()
        self._stderr.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def hand_over(self) -> None:
        """Close this process's copy of the control socket: a process forked from this one owns the zygote now."""
        self._ctrl.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_answers: dict = {}


def asked_once(question):
    """``question()`` (torch.cuda.is_available, torch.cuda.device_count), asked once in this
    process: with the NVML-based check the grader sets, torch caches no answer before CUDA
    starts, and each call loads NVML anew (about 80 calls a submission).  A different
    function (a test's stand-in) is asked anew."""
    if question not in _answers:
        _answers[question] = question()
    return _answers[question]


def _cuda_present() -> bool:
    """Whether this machine has a CUDA device, asked without initialising CUDA here (torch's
    NVML-based count): the worker then gets no address-space limit, which CUDA's start-up
    cannot live with (its memory is bounded by the memory cgroup where there is one)."""
    import torch

    return asked_once(torch.cuda.device_count) > 0


def hidden(limits: Limits) -> list:
    """The folders a worker's view covers besides the course's own trees: ``limits.hide`` and a course
    folder of the instructor's (grader.course), which holds its answers.  Sent with each worker's
    request, so that the course's path is in no worker's environment."""
    from grader.course import current

    course = current()
    return [str(p) for p in limits.hide] + ([] if course.builtin else [str(course.root)])


class Worker:
    """One forked worker process holding (at most) one student module."""

    def __init__(self, zygote: Zygote, limits: Limits, workdir: Path, spend: Spend | None = None):
        self.limits = limits
        self.spend = spend if spend is not None else Spend()
        self.sizes: list = []  # frame sizes of the last reply (for the budget of bytes)
        self.metas = 0  # meta tensors in the last reply
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(workdir, 0o700)
        self.pid, self.sock, self.status_sock = zygote.spawn(
            {"workdir": str(workdir), **limits.worker_caps(), "hide": hidden(limits), "cuda": _cuda_present()}
        )
        self.alive = True
        self.elapsed = 0.0
        self.cpu = 0.0  # CPU seconds charged (its own, and the grader's decoding its replies)
        self._ticks = 0  # its process tree's CPU time (clock ticks) when last read
        self._tree: dict = {}  # {pid: (parent pid, clock ticks)} of that tree when last read
        self._lost = 0  # clock ticks of processes gone from the tree that no parent took
        self._stat = None  # its /proc/PID/stat, held open (one system call a reading)
        self._read_at = time.monotonic()  # when its CPU time was last read
        self._unread_wall = 0.0  # the time its requests took since
        hello = self._recv(30.0)
        if hello.get("hello") != self.pid:
            self.kill()
            raise StudentError(ErrorKind.PROTOCOL, "the worker process did not start properly")
        self.isolation = hello.get("isolation") if isinstance(hello.get("isolation"), dict) else {}

    # -- low level ----------------------------------------------------------
    def _recv(self, timeout: float) -> dict:
        self.sock.settimeout(max(timeout, 0.001))
        return self._reply(time.monotonic() + timeout)

    def _reply(self, deadline: float) -> dict:
        """The reply, whole by ``deadline``; one larger than ``Limits.reply_bytes`` is
        refused from its header (nothing is allocated for it)."""
        sizes = self.sizes
        sizes.clear()
        try:
            obj, blob = codec.recv(
                self.sock,
                deadline=deadline,
                max_json=min(REPLY_JSON, self.limits.reply_bytes),
                max_total=self.limits.reply_bytes,
                sizes=sizes,
            )
        finally:
            if sizes:
                self.spend.bytes += sizes[0]
        decoders: list = []
        try:
            reply = codec.unpack(obj, blob, decoders=decoders)
        except (ValueError, TypeError, RuntimeError, OverflowError, MemoryError) as e:  # torch refused a record
            raise codec.ProtocolError(f"a value the grader cannot rebuild ({type(e).__name__})") from None
        self.metas = decoders[0].metas
        if not isinstance(reply, dict):
            raise codec.ProtocolError("a reply must be a dictionary")
        return reply

    def request(self, op: str, timeout: float, **fields) -> dict:
        """Send one request; return the decoded reply. Raises ``Died`` or ``TimedOut``."""
        if not self.alive:
            raise Died(None)
        body, blobs = codec.pack(fields)
        body["op"] = op
        sock = self.sock
        start = time.monotonic()
        cpu_start = time.thread_time()
        try:
            limit = max(timeout, 0.001)
            if sock.gettimeout() != limit:  # setting it is a system call: only when it changes
                sock.settimeout(limit)
            codec.send(sock, body, blobs)
            return self._reply(start + limit)  # the deadline holds for the whole reply, however it comes
        except TimeoutError:
            self.kill()
            raise TimedOut(timeout) from None
        except (EOFError, ConnectionError, BrokenPipeError):
            self.alive = False
            raise Died(self.exit_status()) from None
        except codec.ProtocolError as e:
            self.kill()
            raise StudentError(ErrorKind.PROTOCOL, f"the worker sent data the grader cannot accept ({e})") from None
        finally:
            spent = time.monotonic() - start
            self.elapsed += spent
            self.spend.seconds += spent
            self._unread_wall += spent
            self._charge(time.thread_time() - cpu_start)

    def _charge(self, cpu: float, read: bool = False) -> None:
        """Charge ``cpu`` (the grader's, decoding a reply) and the worker's CPU since it was
        last read.  Reading it (/proc) costs about 20 µs a request, so it is read only when
        the worker may have spent the submission's CPU budget since (a process spends at most
        ``os.cpu_count()`` CPU seconds a second), on every request once the budget is spent
        (the late budget counts each one), when it is closed (``read``), and once its requests
        took UNREAD_WALL seconds since (a worker that dies cannot be read: those seconds are
        charged instead, as much as before a request would have been)."""
        now = time.monotonic()
        if (
            read
            or self._unread_wall >= UNREAD_WALL
            or self.spend.cpu + cpu + (now - self._read_at) * _CPUS >= self.limits.submission_cpu
        ):
            cpu += self._worker_cpu(self._unread_wall)
            self._read_at, self._unread_wall = now, 0.0
        self.cpu += cpu
        self.spend.cpu += cpu

    def _worker_cpu(self, wall: float) -> float:
        """The CPU seconds of the worker's whole process tree since the last reading, from
        /proc: the worker (all its threads, and the children it waited for) and every process
        it started that is still there, reaped or not (a child left running, a daemon, a
        zombie never waited for); where the worker cannot be read, ``wall`` (the time its
        requests took since)."""
        try:
            if self._stat is None:
                self._stat = os.open(f"/proc/{self.pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
            fields = os.pread(self._stat, 4096, 0).rsplit(b")", 1)[1].split()
            own = sum(map(int, fields[11:15]))  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            return wall
        tree = _descendants(self.pid)
        tree[self.pid] = (0, own)
        # a process gone since the last reading: its time is in its parent's cutime if the
        # parent waited for it; what no parent took (a parent that ignores SIGCHLD, or gone
        # itself) stays charged as last read
        gone: dict = {}
        for pid, (ppid, ticks) in self._tree.items():
            if pid not in tree:
                gone[ppid] = gone.get(ppid, 0) + ticks
        for ppid, ticks in gone.items():
            took = tree[ppid][1] - self._tree[ppid][1] if ppid in tree and ppid in self._tree else 0
            self._lost += max(0, ticks - max(0, took))
        self._tree = tree
        total = sum(t for _, t in tree.values()) + self._lost
        spent, self._ticks = max(0, total - self._ticks), max(self._ticks, total)
        return spent / CLOCK_TICKS

    def settle(self) -> None:
        """Charge the worker's CPU not read yet (before its ``cpu`` is added up)."""
        self._charge(0.0, read=True)

    def exit_status(self, timeout: float = 2.0):
        try:
            self.status_sock.settimeout(timeout)
            data = self.status_sock.recv(256)
            return json.loads(data) if data else None
        except (OSError, ValueError):
            return None

    def output(self, limit: int = 2000) -> str:
        try:
            with open(self.workdir / "output.txt", "rb") as f:
                data = f.read(limit + 1)
        except OSError:
            return ""
        text = data[:limit].decode("utf-8", errors="replace")
        return text + ("\n[... more output cut ...]" if len(data) > limit else "")

    def kill(self) -> None:
        if self.alive:
            for target in (lambda: os.killpg(self.pid, signal.SIGKILL), lambda: os.kill(self.pid, signal.SIGKILL)):
                try:
                    target()
                    break
                except (ProcessLookupError, PermissionError):
                    continue
        self.alive = False

    def close(self) -> None:
        self.settle()
        self.kill()
        self.exit_status(timeout=1.0)
        if self._stat is not None:
            os.close(self._stat)
            self._stat = None
        for s in (self.sock, self.status_sock):
            try:
                s.close()
            except OSError:
                pass


_CHILDREN_FILES = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")  # CONFIG_PROC_CHILDREN


def _stat_ticks(pid) -> tuple | None:
    """(parent pid, utime + stime + cutime + cstime in clock ticks) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return int(fields[1]), sum(map(int, fields[11:15]))
    except (OSError, IndexError, ValueError):
        return None


def _children(parent: int, everyone: dict | None) -> list:
    if everyone is not None:
        return everyone.get(parent, [])
    kids = []
    try:
        tids = os.listdir(f"/proc/{parent}/task")
    except OSError:
        return kids
    for tid in tids:
        try:
            with open(f"/proc/{parent}/task/{tid}/children", "rb") as f:
                kids += map(int, f.read().split())
        except (OSError, ValueError):
            continue
    return kids


def _descendants(root: int) -> dict:
    """{pid: (parent pid, utime + stime + cutime + cstime in clock ticks)} of every process
    below ``root``: each thread's children (/proc/PID/task/TID/children) where the kernel
    lists them, else every process's parent from /proc/PID/stat.  A process that ends while
    it is read is left out."""
    everyone = None
    if not _CHILDREN_FILES:
        everyone, stats = {}, {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                st = _stat_ticks(name)
                if st is not None:
                    stats[int(name)] = st
                    everyone.setdefault(st[0], []).append(int(name))
    out: dict = {}
    todo = [root]
    while todo and len(out) < 4096:
        parent = todo.pop()
        for kid in _children(parent, everyone):
            if kid in out or kid == root:
                continue
            st = stats.get(kid) if everyone is not None else _stat_ticks(kid)
            if st is None:
                continue
            out[kid] = (parent, st[1])
            todo.append(kid)
    return out


class Died(Exception):
    def __init__(self, status):
        self.status = status


class TimedOut(Exception):
    def __init__(self, seconds):
        self.seconds = seconds
