"""What makes a cold `grade` cheap.

Two costs, each about as large as ``import torch`` itself, are avoided here:

* **A second import of torch.**  The warm worker (the *zygote*, ``grader.untrusted.worker``)
  used to be a new interpreter importing torch beside the grader.  ``fork_zygote``
  forks it from the grader once torch is imported instead, *before* the grader has
  imported any answer: it refuses (and the caller starts an interpreter as before)
  if a reference implementation, a hidden suite, the grading plugin or any other
  module of the packages that hold answers or make verdicts is already loaded
  (``grader.untrusted.boundary``), so the trust boundary is where it was.

* **torch._dynamo in every worker.**  The first operation on a ``meta`` tensor (the
  device test of exercises 1-5) runs one of torch's Python decompositions, each
  wrapped by ``torch._compile._disable_dynamo``, which imports ``torch._dynamo``
  (and sympy, ~900 modules, 1-2 CPU-s) only to mark the decomposition "not to be
  compiled".  ``defer_dynamo`` gives those wrappers a cheap stand-in that calls the
  decomposition directly while nobody has imported ``torch._dynamo``, and the real
  ``torch._dynamo.disable`` as soon as anything has (a student's ``torch.compile``):
  what is computed is the same either way.
"""
from __future__ import annotations

import os
import re
import signal
import sys

from grader.untrusted.boundary import secrets_loaded  # what may not be in a forked zygote's memory


class ForkedZygote:
    """The zygote's process, as ``subprocess.Popen`` would show it (pid, kill, wait, poll)."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode = None

    def poll(self):
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self.returncode = -1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self, timeout=None):
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                import subprocess

                raise subprocess.TimeoutExpired(f"zygote {self.pid}", timeout)
            time.sleep(0.005)
        return self.returncode


# names of environment variables that may hold a secret: where one is set, the zygote is a
# new interpreter with the allowlisted environment only, never a copy of this process's memory
SECRET_NAMES = re.compile(r"TOKEN|SECRET|PASSW|CREDENTIAL|API_?KEY|PRIVATE|AUTH|COOKIE|SESSION", re.I)


def secret_environment() -> list:
    return sorted(k for k in os.environ if SECRET_NAMES.search(k))


def _wipe_environment(env: dict) -> None:
    """Leave nothing of this process's environment but ``env``: ``os.environ``,
    ``posix.environ`` (the copy Python made at start-up) and the strings the process
    was started with (what ``/proc/self/environ`` shows), zeroed in place."""
    import ctypes
    import posix

    os.environ.clear()
    posix.environ.clear()
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[47]), int(fields[48])  # env_start, env_end (fields 50 and 51)
        if 0 < start < end:
            ctypes.memset(start, 0, end - start)
    except (OSError, ValueError, IndexError):
        pass
    os.environ.update(env)


def fork_zygote(ctrl_fd: int, stderr_fd: int, cwd: str, env: dict):
    """Fork the zygote from this process (torch already imported); None if this
    process may not be forked for it (an answer is loaded, torch is not, or the
    environment names a secret: see ``SECRET_NAMES``)."""
    if "torch" not in sys.modules or secrets_loaded() or secret_environment() or not hasattr(os, "fork"):
        return None
    pid = os.fork()
    if pid:
        return ForkedZygote(pid)
    code = 0
    try:  # the child: become what `python -m grader.untrusted.worker FD` would be
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's to handle
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)  # grade's own handlers are not the zygote's
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(stderr_fd, 1)
        os.dup2(stderr_fd, 2)
        os.closerange(3, ctrl_fd)
        os.closerange(ctrl_fd + 1, 1 << 16)
        os.chdir(cwd)
        _wipe_environment(env)
        sys.argv = ["grader.untrusted.worker"]
        from grader.untrusted import worker

        worker.zygote(ctrl_fd)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def defer_dynamo() -> int:
    """Give torch's ``_disable_dynamo`` wrappers their stand-in (see the module's
    docstring); returns how many were given one (0 where torch's code differs)."""
    import gc
    import inspect

    try:
        import torch._compile as compile_mod

        inner = next(c for c in compile_mod._disable_dynamo.__code__.co_consts
                     if inspect.iscode(c) and c.co_name == "inner")
    except (ImportError, AttributeError, StopIteration):
        return 0
    if "fn" not in inner.co_freevars or "recursive" not in inner.co_freevars:
        return 0
    done = 0
    for f in gc.get_referrers(inner):
        if not inspect.isfunction(f) or f.__code__ is not inner or not f.__closure__:
            continue
        cells = dict(zip(f.__code__.co_freevars, f.__closure__))
        try:
            fn, recursive = cells["fn"].cell_contents, cells["recursive"].cell_contents
        except ValueError:  # an empty cell
            continue
        if getattr(fn, "__dynamo_disable", None) is None:
            try:
                fn.__dynamo_disable = _stand_in(fn, recursive)
            except (AttributeError, TypeError):
                continue
            done += 1
    return done


def _stand_in(fn, recursive):
    def call(*args, **kwargs):
        dynamo = sys.modules.get("torch._dynamo")
        if dynamo is None:
            return fn(*args, **kwargs)
        disabled = dynamo.disable(fn, recursive, wrapping=False)  # from now on, what torch would use
        fn.__dynamo_disable = disabled
        return disabled(*args, **kwargs)

    return call


def uses_meta(exercises) -> bool:
    """Whether the suites of these exercises run student code on the meta device: as
    ``grader.exercises`` declares it, never by reading a suite (its text would stay in this
    process's memory, and so in every worker forked from a zygote forked here)."""
    return any(getattr(ex, "meta", False) for ex in exercises)


def warm_meta() -> None:
    """Run, once, the meta-device operations that the device tests make a worker run:
    their first run imports sympy and builds torch's decompositions (about a second),
    which every worker forked after this shares instead of repeating."""
    import torch
    import torch.nn.functional as F

    x = torch.zeros(3, 4, device="meta")
    t = torch.zeros(3, dtype=torch.long, device="meta")
    for op in (lambda: torch.softmax(x, -1), lambda: torch.log_softmax(x, -1), lambda: x.max(dim=-1),
               lambda: x.amax(-1, keepdim=True), lambda: torch.logsumexp(x, -1), lambda: (x - x).exp().sum(-1),
               lambda: x / x.sum(-1, keepdim=True), lambda: x.log(), lambda: F.cross_entropy(x, t),
               lambda: x[torch.arange(3, device="meta"), t].mean(), lambda: x.gather(1, t[:, None]),
               lambda: torch.relu(x), lambda: x.clamp(min=0),
               lambda: torch.where(x > 0, x, torch.zeros_like(x)), lambda: x * (x > 0),
               lambda: torch.maximum(x, torch.zeros_like(x)), lambda: x @ torch.zeros(4, 2, device="meta"),
               lambda: F.linear(x, torch.zeros(2, 4, device="meta"), torch.zeros(2, device="meta"))):
        try:
            op()
        except Exception:
            pass
