"""The grader's side of the trust boundary.

``Zygote`` starts the warm process (``grader.untrusted.worker``) that imports torch once;
``Worker`` is one forked, limited process holding one student file; and
``Student`` is what a hidden test talks to: it restarts a worker that died,
keeps the exercise within its time budget and turns everything that can go
wrong on the student's side into a ``StudentError`` whose message a student
can act on.  Replies are decoded by ``grader.transport.wire`` (plain data only).
"""
from __future__ import annotations

import hashlib
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

from grader.verdicts import forbidden

from grader.verdicts import integrity

from grader.transport import wire
from grader.feedback.textsafe import MAX_NAME, MAX_TEXT, clip
from grader.transport.limits import Limits, Spend
from grader.transport.wire import Call, Handle, Ref

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
TRACE_CALLS = 64     # requests a test's trace keeps (for a visible test's reproducer); more: no trace
TRACE_COPY = 64      # tensors up to this many entries are copied into the trace as they were sent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
CPU_SLACK = 1.5      # a request may run this many seconds per CPU second its budget has left
REPLY_JSON = 16 << 20  # bytes of JSON in one reply (the rest of Limits.reply_bytes is tensors' bytes)


class StudentError(Exception):
    """Something on the student's side went wrong; ``message`` says what."""

    # kinds that mean the code could not be run at all (status "error")
    RUN_KINDS = {"missing_file", "load", "crash", "timeout", "budget", "protocol"}

    def __init__(self, kind: str, message: str, hint: str | None = None, **details):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.hint = hint
        self.details = details

    def copy(self) -> "StudentError":
        """A fresh exception with the same content (re-raising one instance
        would make its traceback grow with every test)."""
        return StudentError(self.kind, self.message, self.hint, **self.details)


SIGNALS = {
    signal.SIGXFSZ: ("printed more output than the limit allows",
                     "Remove the print statements from loops; the grader keeps only the first few MB."),
    signal.SIGXCPU: ("used more CPU time than the limit allows",
                     "Look for an endless loop or a much slower algorithm than needed."),
    signal.SIGSEGV: ("crashed with a segmentation fault",
                     "This usually comes from a C extension or from torch given inconsistent sizes."),
    signal.SIGKILL: ("was killed (out of memory, or stopped by the grader)",
                     "Look for a tensor far larger than the inputs, or an endless loop that allocates."),
    signal.SIGABRT: ("aborted", None),
}


# Hints for torch's own error messages, the first match wins.
TORCH_ERROR_HINTS = (
    ("before Module.__init__() call",
     "Call `super().__init__()` first thing in your module's __init__, before assigning any layer or Parameter."),
    ("a leaf Variable that requires grad is being used in an in-place operation",
     "Don't update tensors that require grad in place outside `with torch.no_grad():` "
     "(and never modify the input in place)."),
    ("must match the size of tensor",
     "Two shapes don't broadcast: check keepdim=True and which dimension you reduce over (dim=-1 for the last)."),
    ("Dimension out of range",
     "Use dim=-1 for the last dimension, whatever the number of dimensions of the input."),
    ("could not be broadcast", "Is a batch size hard-coded? Use x.shape[0] instead of a fixed number."),
    ("is out of bounds for dimension",
     "Is a batch size hard-coded (e.g. torch.arange(64))? Use x.shape[0] instead of a fixed number."),
    ("mat1 and mat2 shapes cannot be multiplied",
     "The inner dimensions of a matrix product must agree: check the weight's layout and the transposes."),
    ("File too large",
     "Your code printed more output than the grader keeps (a few MB): remove print() calls from loops."),
    ("Expected all tensors to be on the same device",
     "Create new tensors on the input's device: `torch.zeros_like(x)` or `device=x.device`."),
)


# ---------------------------------------------------------------------------

# The zygote's environment, from an allowlist (names, and prefixes ending in "_"):
# what Python, torch and the GPU need; never the grader's secrets or tokens.
ZYGOTE_ENV = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_", "TZ", "TMPDIR", "PYTHONPATH", "PYTHONHASHSEED",
              "PYTHONIOENCODING", "VIRTUAL_ENV", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
              "CUDA_", "NVIDIA_", "LD_LIBRARY_PATH", "GRADER_NO_FREEZE", "GRADER_CGROUP")


def zygote_environment() -> dict:
    return {k: v for k, v in os.environ.items()
            if any(k == n or (n.endswith("_") and k.startswith(n)) for n in ZYGOTE_ENV)}


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
        if preload:
            env["GRADER_ZYGOTE_PRELOAD"] = "1"
        else:
            env.pop("GRADER_ZYGOTE_PRELOAD", None)
        if many:
            env["GRADER_ZYGOTE_HUGEPAGES"] = "1"
        else:
            env.pop("GRADER_ZYGOTE_HUGEPAGES", None)
        if warm_meta:
            env["GRADER_ZYGOTE_WARM_META"] = "1"
        else:
            env.pop("GRADER_ZYGOTE_WARM_META", None)
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
                pass_fds=[child.fileno()], stdin=subprocess.DEVNULL, stdout=self._stderr,
                stderr=self._stderr, cwd=PACKAGE_ROOT if checkout else self._dir, env=env)
        child.close()
        self._lock = threading.Lock()
        self._ready = False

    def wait_ready(self, timeout: float = 180.0) -> None:
        if self._ready:
            return
        self._ctrl.settimeout(timeout)
        try:
            data = self._ctrl.recv(4096)
        except socket.timeout:
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

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Worker:
    """One forked worker process holding (at most) one student module."""

    def __init__(self, zygote: Zygote, limits: Limits, workdir: Path, spend: Spend | None = None):
        self.limits = limits
        self.spend = spend if spend is not None else Spend()
        self.sizes: list = []   # frame sizes of the last reply (for the budget of bytes)
        self.metas = 0          # meta tensors in the last reply
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(workdir, 0o700)
        self.pid, self.sock, self.status_sock = zygote.spawn({
            "workdir": str(workdir), "memory_bytes": limits.memory_bytes,
            "cpu_seconds": limits.cpu_seconds, "output_bytes": limits.output_bytes,
            "open_files": limits.open_files, "isolate": limits.isolate, "processes": limits.processes,
            "disk_bytes": limits.disk_bytes, "hide": [str(p) for p in limits.hide]})
        self.alive = True
        self.elapsed = 0.0
        self.cpu = 0.0          # CPU seconds charged (its own, and the grader's decoding its replies)
        self._ticks = 0         # its CPU time (clock ticks) when last read
        hello = self._recv(30.0)
        if hello.get("hello") != self.pid:
            self.kill()
            raise StudentError("protocol", "the worker process did not start properly")
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
            obj, blob = wire.recv(self.sock, deadline=deadline, max_json=min(REPLY_JSON, self.limits.reply_bytes),
                                  max_total=self.limits.reply_bytes, sizes=sizes)
        finally:
            if sizes:
                self.spend.bytes += sizes[0]
        decoders: list = []
        try:
            reply = wire.unpack(obj, blob, decoders=decoders)
        except (ValueError, TypeError, RuntimeError, OverflowError, MemoryError) as e:  # torch refused a record
            raise wire.ProtocolError(f"a value the grader cannot rebuild ({type(e).__name__})") from None
        self.metas = decoders[0].metas
        if not isinstance(reply, dict):
            raise wire.ProtocolError("a reply must be a dictionary")
        return reply

    def request(self, op: str, timeout: float, **fields) -> dict:
        """Send one request; return the decoded reply. Raises ``Died`` or ``TimedOut``."""
        if not self.alive:
            raise Died(None)
        body, blobs = wire.pack(fields)
        body["op"] = op
        sock = self.sock
        start = time.monotonic()
        cpu_start = time.thread_time()
        try:
            limit = max(timeout, 0.001)
            if sock.gettimeout() != limit:  # setting it is a system call: only when it changes
                sock.settimeout(limit)
            wire.send(sock, body, blobs)
            return self._reply(start + limit)  # the deadline holds for the whole reply, however it comes
        except socket.timeout:
            self.kill()
            raise TimedOut(timeout) from None
        except (EOFError, ConnectionError, BrokenPipeError):
            self.alive = False
            raise Died(self.exit_status()) from None
        except wire.ProtocolError as e:
            self.kill()
            raise StudentError("protocol", f"the worker sent data the grader cannot accept ({e})") from None
        finally:
            spent = time.monotonic() - start
            self.elapsed += spent
            self.spend.seconds += spent
            cpu = time.thread_time() - cpu_start + self._worker_cpu(spent)
            self.cpu += cpu
            self.spend.cpu += cpu

    def _worker_cpu(self, wall: float) -> float:
        """The worker's CPU seconds since the last reading (all its threads, and its
        children it waited for), from /proc; where that cannot be read, ``wall``."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            ticks = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
        except (OSError, IndexError, ValueError):
            return wall
        spent, self._ticks = max(0, ticks - self._ticks), ticks
        return spent / CLOCK_TICKS

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
        self.kill()
        self.exit_status(timeout=1.0)
        for s in (self.sock, self.status_sock):
            try:
                s.close()
            except OSError:
                pass


class Died(Exception):
    def __init__(self, status):
        self.status = status


class TimedOut(Exception):
    def __init__(self, seconds):
        self.seconds = seconds


# ---------------------------------------------------------------------------

def _fmt_signature_hint(err: dict) -> str:
    sig = err.get("signature")
    return f" Your function's signature is {sig}." if sig else ""


class Student:
    """One student's file for one exercise, as the hidden tests see it."""

    _integrity: list = []
    _review: list = []

    def __init__(self, exercise, submission: Path, zygote: Zygote, limits: Limits,
                 tmproot: Path, seed: int = 0, spend: Spend | None = None):
        self.exercise = exercise
        self.spend = spend if spend is not None else Spend()  # the whole submission's (shared by its exercises)
        self.late_from: float | None = None  # this exercise's time spent when the submission's budget ran out
        self.late_bytes_from: int | None = None  # the submission's bytes when its data budget ran out
        self.late_cpu_from: float | None = None  # this exercise's CPU spent when the submission's CPU budget ran out
        self.cpu = 0.0  # CPU seconds of this exercise's closed workers
        self.stopped: StudentError | None = None  # a request stopped by a budget: the rest is not run
        if Path(submission).is_file():  # one .py holding every exercise: graded as each exercise's file
            self.source = Path(submission)
            self.file = self.source.name
        else:
            self.source = Path(submission) / exercise.file
            self.file = exercise.file
        self.zygote = zygote
        self.limits = limits
        self.tmproot = Path(tmproot)
        self.seed = seed
        self.worker: Worker | None = None
        self.names: dict = {}
        self.load_error: StudentError | None = None
        self.timeouts = 0
        self.elapsed = 0.0
        self.restarts = 0
        self.test_id = ""
        self.calls = 0
        self.trace: list | None = []

    # -- life cycle ------------------------------------------------------------
    def begin_test(self, test_id: str, trace: bool = True) -> None:
        """A new test starts; ``trace``: keep its requests for a reproducer (visible tests)."""
        self.test_id = test_id
        self.calls = 0
        self.trace = [] if trace else None

    def _record(self, op: str, **fields) -> dict:
        """Note a request of the current test in ``trace``, for a visible test's
        reproducer (``grader.harness.plugin``): what the test sent, with copies of its small
        tensors as they were sent (``copies``: id → copy, None when too large).
        The reply is added as it came (the plugin only compares it by identity and
        follows handles by id); nothing the worker sent is ever shown from it."""
        rec = {"op": op, **fields, "copies": {}}
        if self.trace is not None:
            if len(self.trace) >= TRACE_CALLS:
                self.trace = None
            else:
                self.trace.append(rec)
                _copy_tensors(fields, rec["copies"])
        return rec

    def close(self) -> None:
        if self.worker is not None:
            self.elapsed += self.worker.elapsed
            self.cpu += self.worker.cpu
            self.worker.close()
            self.worker = None

    def _check_budget(self) -> None:
        if self.timeouts >= self.limits.max_timeouts:
            raise StudentError(
                "budget", f"not run: your code already timed out {self.timeouts} times in this exercise",
                "Find the endless (or very slow) loop first; once it ends, these checks run again.")
        if self.stopped is not None or self._left()[0] <= 0:
            raise self._budget_error("not run")
        if self.spend.bytes > self.limits.submission_bytes:
            if self.late_bytes_from is None:
                self.late_bytes_from = self.spend.bytes
        if self.late_bytes_from is not None and self.spend.bytes > self.late_bytes_from + self.limits.late_bytes:
            raise StudentError(
                "budget", f"not run: the results of this submission's code used up its data budget "
                          f"({self.limits.submission_bytes >> 20} MiB for all exercises, then "
                          f"{self.limits.late_bytes >> 20} MiB for each exercise)",
                "Return results of the size the exercise asks for, not far larger tensors.")

    def _left(self) -> tuple:
        """(seconds this exercise may still spend, which of the submission's budgets limits
        it: None, "wall" or "cpu"): the exercise's own budget, and once the whole submission
        has spent ``Limits.submission_budget`` seconds, ``late_budget`` more for this exercise;
        once it has spent ``submission_cpu`` CPU seconds, ``late_cpu`` more of CPU time."""
        spent = self.elapsed + (self.worker.elapsed if self.worker else 0.0)
        left, why = self.limits.exercise_budget - spent, None
        if self.spend.seconds >= self.limits.submission_budget:
            if self.late_from is None:
                self.late_from = spent
            late = self.late_from + self.limits.late_budget - spent
            if late < left:
                left, why = late, "wall"
        # CPU, once the submission has spent its CPU budget: this exercise's late share; a
        # request may take CPU_SLACK seconds of wall time for each second of it it has left
        if self.spend.cpu >= self.limits.submission_cpu:
            cpu = self.cpu + (self.worker.cpu if self.worker else 0.0)
            if self.late_cpu_from is None:
                self.late_cpu_from = cpu
            cpu_left = self.late_cpu_from + self.limits.late_cpu - cpu
            if cpu_left <= 0 or cpu_left * CPU_SLACK < left:
                left, why = min(cpu_left, cpu_left * CPU_SLACK), "cpu"
        return left, why

    def _budget_error(self, what: str) -> StudentError:
        why = self._left()[1]
        if why == "cpu":
            return StudentError(
                "budget", f"{what}: this submission used up its CPU budget ({self.limits.submission_cpu:g} s of "
                          f"CPU time for all exercises, then {self.limits.late_cpu:g} s for each exercise)",
                "Your code computes far more than needed somewhere (correct code takes well under a second of CPU "
                "time for all exercises): look for endless loops, Python loops over tensor elements, and results "
                "far larger than the exercise asks for.")
        if why:
            return StudentError(
                "budget", f"{what}: this submission used up its time budget ({self.limits.submission_budget:g} s "
                          f"for all exercises, then {self.limits.late_budget:g} s for each exercise)",
                "Your code is much slower than needed somewhere (or waits on purpose); correct code takes well "
                "under a second per exercise. Look for endless loops and Python loops over tensor elements.")
        return StudentError(
            "budget", f"{what}: this exercise used up its time budget ({self.limits.exercise_budget:.0f} s)",
            "Your code is much slower than needed; look for Python loops over tensor elements.")

    def _timeout(self, timeout: float) -> tuple:
        """(the time a request may take, whether the budget, not ``timeout``, sets it)."""
        left = self._left()[0]
        return (left, True) if left < timeout else (timeout, False)

    def _ensure(self) -> Worker:
        if self.load_error is not None:
            raise self.load_error.copy()
        self._check_budget()
        if self.worker is not None and self.worker.alive:
            return self.worker
        if not self.source.is_file():
            self.load_error = StudentError(
                "missing_file", f"{self.file} is not in the submission folder {self.source.parent}",
                f"Save your work as {self.file} in that folder, or point --submission at the folder that holds it.")
            raise self.load_error
        self.close()
        self.restarts += 1
        workdir = self.tmproot / f"{self.exercise.name}-{self.restarts}"
        workdir.mkdir(parents=True, exist_ok=True)
        target = workdir / self.file
        shutil.copyfile(self.source, target)
        self.worker = Worker(self.zygote, self.limits, workdir, self.spend)
        timeout, by_budget = self._timeout(self.limits.load_timeout)
        try:
            reply = self.worker.request("load", timeout, path=str(target),
                                        module=Path(self.exercise.file).stem,
                                        forbidden=forbidden.worker_spec(self.exercise))
        except TimedOut as t:
            self.timeouts += 1
            if by_budget:
                self.load_error = self.stopped = self._budget_error(f"importing {self.file} was stopped")
                raise self.load_error from None
            self.load_error = StudentError(
                "load", f"importing {self.file} took longer than {t.seconds:.0f} s",
                "Code at the top level of your file runs on import: move experiments into "
                "`if __name__ == '__main__':` and look for an endless loop.")
            raise self.load_error from None
        except Died as d:
            self.load_error = StudentError(
                "load", f"{self.file} ended the worker process while it was being imported "
                        f"({self._status_text(d.status)}){self._output_note()}",
                "Don't call exit(), sys.exit() or os._exit() in your file; code at the top level runs on import.")
            raise self.load_error from None
        if "load_error" in reply:
            self.load_error = self._load_error(reply["load_error"] if isinstance(reply["load_error"], dict) else {})
            raise self.load_error
        names = reply.get("names")
        self.names = {clip(str(n), MAX_NAME): None for n in names} if isinstance(names, (dict, list)) else {}
        return self.worker

    def _status_text(self, status) -> str:
        if not status:
            return "it vanished"
        if "signal" in status:
            try:
                sig = signal.Signals(status["signal"])
            except ValueError:
                return f"killed by signal {status['signal']}"
            text = SIGNALS.get(sig, (f"killed by {sig.name}", None))[0]
            return text
        return f"exit status {status.get('exit')}"

    def _output_note(self) -> str:
        out = self.worker.output(600).strip() if self.worker else ""
        return f"\nIt printed:\n{out}" if out else ""

    def _load_error(self, e: dict) -> StudentError:
        e = _plain_fields(e)
        where = f"{e.get('file', self.file)}, line {e.get('line')}" if e.get("line") else e.get("file", self.file)
        kind = e.get("kind")
        if kind == "encoding":
            return StudentError("load", f"{where}: the file is not UTF-8 text ({e.get('message')})",
                                "Save the file as UTF-8 in your editor (most editors offer it in 'Save with encoding').")
        if kind == "syntax":
            code = f"\n    {e['code']}" if e.get("code") else ""
            return StudentError("load", f"{where}: {e.get('message')}{code}",
                                f"Python cannot read the file. Run `python {self.file}` to see the error and fix that line.")
        msg = f"importing {self.file} raised {e.get('type')}: {e.get('message')}"
        if e.get("line"):
            msg += f"\n    at {where}: {e.get('code', '')}"
        hint = "The code at the top level of your file runs when it is imported; it raised before any test could run."
        text = str(e.get("message", ""))
        if e.get("type") in ("ModuleNotFoundError", "ImportError") and "exercise" in text:
            hint = ("Each exercise is graded on its own: don't import your other exercise files; "
                    "use torch's built-ins (torch.nn.Linear, ...) where you need another part.")
        elif e.get("type") in ("ModuleNotFoundError", "ImportError"):
            hint = "Only torch and the Python standard library are available to your code."
        elif e.get("type") == "SystemExit":
            msg = f"{self.file} called exit() while being imported"
            hint = "Don't call exit(), sys.exit() or quit() in your file."
        return StudentError("load", msg, hint)

    # -- requests ----------------------------------------------------------------
    def _request(self, op: str, what: str, timeout: float | None = None, _record: dict | None = None,
                 **fields) -> dict:
        worker = self._ensure()
        if not hasattr(self, "_forbidden_static"):  # names the exercise forbids, in the file itself
            self._static_scans()
        if self._forbidden_static:
            raise forbidden.static_error(self.exercise, self._forbidden_static, self.file)
        self.calls += 1
        digest = hashlib.sha256(f"{self.seed}|{self.test_id}|{self.calls}".encode()).digest()
        fields.setdefault("seed", int.from_bytes(digest[:6], "big"))
        if _record is not None:
            _record["seed"] = fields["seed"]
        timeout, by_budget = self._timeout(timeout or self.limits.call_timeout)
        try:
            reply = worker.request(op, timeout, **fields)
        except TimedOut as t:
            self.timeouts += 1
            if by_budget:
                self.stopped = self._budget_error(f"{what} was stopped")
                raise self.stopped.copy() from None
            raise StudentError("timeout", f"{what} did not finish within {t.seconds:.0f} s",
                               "Look for an endless loop, or a Python loop over tensor elements "
                               "that should be a single tensor operation.") from None
        except Died as d:
            raise StudentError("crash", f"{what}: your code ended the worker process "
                                        f"({self._status_text(d.status)}){self._output_note()}",
                               SIGNALS.get(d.status.get("signal"), (None, None))[1] if d.status and "signal" in d.status
                               else "Don't call exit(), sys.exit() or os._exit() in your code.") from None
        if worker.metas and not _holds_meta(fields):
            # a tensor on PyTorch's data-free device, from code given none: no values to judge
            raise StudentError(
                "result", f"{what} returned a tensor on PyTorch's data-free 'meta' device (it holds no values), "
                          "for inputs on the CPU",
                "Compute the result from the inputs, on their device (torch.zeros_like(x), device=x.device); "
                "a tensor made with device='meta' is never a result here.")
        if reply.get("forbidden"):  # reported by the worker, decided here
            err = forbidden.dynamic_error(self.exercise, what, list(reply["forbidden"])
                                          if isinstance(reply["forbidden"], list) else [])
            if err is not None:
                raise err
        if "error" in reply:
            err = self._exception(reply["error"] if isinstance(reply["error"], dict) else {}, what)
            if _record is not None:
                err.details["request"] = _record  # the request that raised, for a reproducer
            raise err
        if self._integrity:  # no call it made counts (a call that raised or broke a rule says so first)
            raise integrity.error(self.exercise, self._integrity, self.file)
        if "fatal" in reply:
            raise StudentError("protocol", f"the worker refused the request: {clip(str(reply['fatal']))}")
        return reply

    def _static_scans(self) -> None:
        """The exercise's part of the file, read by the forbidden-call and integrity scans
        (once); what needs a human's eye goes to ``review``."""
        self._forbidden_static = forbidden.scan(self.source, self.exercise)
        notes = forbidden.scan_all(self.source, self.exercise)[1]
        self._integrity, more = integrity.scan(self.source, self.exercise)
        kinds = {n["kind"] for n in notes}
        self._review = (integrity.review_entries(self._integrity, self.file) + notes
                        + [n for n in more if n["kind"] not in kinds])

    @property
    def review(self) -> list:
        """For the report's "review" field: what an instructor should look at (the
        integrity scan's findings, what a scan could not walk), even when the file never loaded."""
        if not hasattr(self, "_forbidden_static") and self.source.is_file():
            self._static_scans()
        return self._review

    def _exception(self, e: dict, what: str) -> StudentError:
        e = _plain_fields(e)
        etype, emsg = e.get("type", "Exception"), e.get("message", "")
        where = f"\n    at {e['file']}, line {e['line']}: {e.get('code', '')}" if e.get("line") else ""
        if etype == "NotImplementedError" and "NotImplementedError" in e.get("code", "NotImplementedError"):
            # the stub's own `raise NotImplementedError` (torch raises it too, for an op a device lacks)
            return StudentError("not_implemented", f"{what}: not implemented yet (it raises NotImplementedError){where}",
                                f"Replace the `raise NotImplementedError` in {self.file} with your implementation.")
        hint = None
        if etype == "MemoryError" or "can't allocate memory" in emsg or "out of memory" in emsg:
            hint = (f"Your code ran out of memory (the limit is {self.limits.memory_bytes >> 20} MiB). "
                    "Look for a tensor much larger than the inputs, e.g. an accidental outer product.")
        elif etype == "TypeError" and ("argument" in emsg or "positional" in emsg):
            hint = "Check the signature the exercise asks for." + _fmt_signature_hint(e)
        elif etype == "SystemExit":
            return StudentError("exception", f"{what}: your code called exit(){where}",
                                "Don't call exit(), sys.exit() or quit() in your functions: return a value.")
        else:
            hint = next((h for needle, h in TORCH_ERROR_HINTS if needle in emsg), None)
        return StudentError("exception", f"{what} raised {etype}: {emsg}{where}", hint)

    def _check_name(self, ref) -> None:
        self._ensure()
        if isinstance(ref, Ref) and ref.parts and ref.parts[0] == "student" and len(ref.parts) > 1:
            name = ref.parts[1]
            if name not in self.names:
                defined = clip(", ".join(sorted(self.names)), MAX_TEXT) or "nothing"
                raise StudentError("exception", f"{self.file} defines no `{name}` (it defines: {defined})",
                                   f"The exercise asks for a name exactly `{name}`; check its spelling and "
                                   "that it is defined at the top level of the file.")

    # -- the API the hidden tests use -------------------------------------------------
    def ref(self, *names: str) -> Ref:
        """A name in the student's module, e.g. ``student.ref('softmax')``."""
        return Ref("student", *names)

    @staticmethod
    def torch(dotted: str) -> Ref:
        """A torch built-in the worker looks up, e.g. ``Student.torch('nn.Linear')``."""
        return Ref("torch", *dotted.split("."))

    def call(self, fn, *args, _what: str | None = None, _timeout: float | None = None,
             _grad: str = "enable", _return_args: bool = False, _inspect=False, _before=(), **kwargs):
        """Call ``fn`` (a Ref or Handle) in the worker; returns plain data or Handles.
        Arguments may be ``Call``s, made in the worker as it reads the request;
        ``_before``: ``Call``s made first, in order, in the same request.  With ``_return_args`` returns ``(value, args_after_the_call)``; with
        ``_inspect=True``, ``(value, what inspect(value) gives)``, in one round trip;
        ``_inspect=<Handle or Ref>``: ``(value, what inspect(that object) gives)`` after the call."""
        if _return_args and _inspect:
            raise ValueError("_return_args and _inspect do not go together")
        self._check_name(fn)
        if _inspect is not True and _inspect is not False:
            self._check_name(_inspect)
        what = _what or _describe_call(fn)
        before = [self._record("call", fn=c.fn, args=c.args, kwargs=c.kwargs, grad=_grad) for c in _before]
        rec = self._record("call", fn=fn, args=list(args), kwargs=kwargs, grad=_grad)
        fields = {"before": list(_before)} if _before else {}
        reply = self._request("call", what, _timeout, rec, fn=fn, args=list(args), kwargs=kwargs,
                              grad=_grad, return_args=_return_args, inspect=_inspect, **fields)
        for r in before:  # as if called apart (their values stayed in the worker)
            r.update(done=True, value=None)
        value = reply.get("value")
        rec.update(done=True, value=value, args_after=reply.get("args"))
        if _return_args:
            return value, reply.get("args")
        if _inspect:
            info = reply.get("info")
            self._record("inspect", obj=value if _inspect is True else _inspect).update(
                done=True, value=info)  # as if inspected apart
            return value, info
        return value

    def getattr(self, obj, name: str, _what: str | None = None):
        self._check_name(obj)
        rec = self._record("getattr", obj=obj, name=name)
        value = self._request("getattr", _what or f"reading .{name}", None, rec, obj=obj, name=name).get("value")
        rec.update(done=True, value=value)
        return value

    def setattr(self, obj, name: str, value) -> None:
        rec = self._record("setattr", obj=obj, name=name, value=value)
        self._request("setattr", f"setting .{name}", None, rec, obj=obj, name=name, value=value)
        rec["done"] = True

    def inspect(self, obj, _what: str | None = None) -> dict:
        """Type, signature and (for modules) parameters, buffers and children."""
        self._check_name(obj)
        rec = self._record("inspect", obj=obj)
        value = self._request("inspect", _what or "inspecting an object", None, rec, obj=obj).get("value")
        rec.update(done=True, value=value)
        return value

    def vjp(self, fn, args, grad_output=None, wrt=(0,), params=None, _what: str | None = None,
            _timeout: float | None = None, **kwargs):
        """Run ``fn(*args)`` with autograd and return ``(output, input_grads, param_grads)``."""
        self._check_name(fn)
        rec = self._record("vjp", fn=fn, args=list(args), kwargs=kwargs, grad_output=grad_output,
                           wrt=list(wrt), params=params)
        reply = self._request("vjp", _what or f"backward through {_describe_call(fn)}", _timeout, rec,
                              fn=fn, args=list(args), kwargs=kwargs, grad_output=grad_output,
                              wrt=list(wrt), params=params)
        pg = reply.get("param_grads") or []
        if not (isinstance(pg, (list, dict)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in pg)):
            raise StudentError("protocol", "the worker sent a malformed reply to a backward request")
        out = reply.get("value"), reply.get("grads"), dict(pg)
        rec.update(done=True, value=out[0], grads=out[1], param_grads=out[2])
        return out

    def vjps(self, fn, args, grad_outputs, wrt=(0,), _what: str | None = None, _timeout: float | None = None):
        """Run ``fn(*args)`` once with autograd and backward through it once for each of
        ``grad_outputs`` (in order, each a separate run of the student's backward): returns
        ``(output, [input_grads for each grad_output])``, in one round trip."""
        self._check_name(fn)
        rec = self._record("vjps", fn=fn, args=list(args), grad_outputs=list(grad_outputs), wrt=list(wrt))
        reply = self._request("vjp", _what or f"backward through {_describe_call(fn)}", _timeout, rec,
                              fn=fn, args=list(args), kwargs={}, grad_outputs=list(grad_outputs), wrt=list(wrt))
        value, grads = reply.get("value"), reply.get("grads")
        if not isinstance(grads, list) or len(grads) != len(grad_outputs) or \
                not all(isinstance(g, list) for g in grads):
            raise StudentError("protocol", "the worker sent a malformed reply to a backward request")
        rec.update(done=True, value=value, grads=grads)
        return value, grads


def _plain_fields(e: dict) -> dict:
    """An error record from the worker with its fields as short strings: names and
    types (an exception's class, a file) at most MAX_NAME characters, the rest at most
    MAX_TEXT (wire keeps every string to that), a line number an int or None."""
    out = {}
    for k, v in e.items():
        if k == "line":
            out[k] = v if type(v) is int else None
        elif k in ("type", "file", "kind"):
            out[k] = clip(str(v), MAX_NAME)
        elif k in ("message", "code", "signature"):
            out[k] = clip(str(v), MAX_TEXT)
        else:
            out[k] = v
    return out


def _holds_meta(value, depth: int = 0) -> bool:
    """Whether ``value`` (what a request sends) holds a tensor on the meta device."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.device.type == "meta"
    if isinstance(value, (list, tuple)) and depth < 8:
        return any(_holds_meta(v, depth + 1) for v in value)
    if isinstance(value, dict) and depth < 8:
        return any(_holds_meta(v, depth + 1) for v in value.values())
    if isinstance(value, Call) and depth < 8:
        return _holds_meta([value.args, value.kwargs], depth + 1)
    return False


def _copy_tensors(value, into: dict, depth: int = 0) -> None:
    """Copy the small tensors in ``value`` (nested lists, tuples, dicts) into ``into``, by id."""
    import torch

    if isinstance(value, torch.Tensor):
        if id(value) not in into:
            into[id(value)] = value.detach().clone() if value.numel() <= TRACE_COPY else None
    elif isinstance(value, (list, tuple)) and depth < 8:
        for v in value:
            _copy_tensors(v, into, depth + 1)
    elif isinstance(value, dict) and depth < 8:
        for v in value.values():
            _copy_tensors(v, into, depth + 1)
    elif isinstance(value, Call) and depth < 8:
        _copy_tensors([value.args, value.kwargs], into, depth + 1)


def _describe_call(fn) -> str:
    if isinstance(fn, Ref):
        parts = [str(p) for p in fn.parts if not isinstance(p, int)]
        if parts and parts[0] in ("student", "handle"):
            parts = parts[1:]
        return ".".join(parts) + "(...)" if parts else "the call"
    if isinstance(fn, Handle):
        return f"calling the {fn.type.rsplit('.', 1)[-1]} object"
    return "the call"


__all__ = ["Limits", "Zygote", "Worker", "Student", "StudentError", "Call", "Handle", "Ref"]
