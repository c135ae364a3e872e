"""What makes a cold `grade` cheap.

Two costs, each about as large as ``import torch`` itself, are avoided here:

* **A second import of torch.**  The warm worker (the *zygote*, ``grader.untrusted.worker``)
  used to be a new interpreter importing torch beside the grader.  ``fork_zygote``
  forks it from the grader once torch is imported instead, *before* the grader has
  imported any answer: it refuses (and the caller starts an interpreter as before)
  if a reference implementation, a hidden suite, the grading plugin or any other
  module of the packages that hold answers or make verdicts is already loaded
  (``grader.untrusted.boundary``), so the trust boundary is where it was.

* **torch._dynamo in every worker.**  What the zygote runs once so that its workers
  need not: ``grader.untrusted.warmup``.
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


def may_fork() -> bool:
    """Whether ``fork_zygote`` would fork this process once torch is imported: no answer
    is loaded and the environment names no secret (see ``SECRET_NAMES``).  Where it would
    not, the caller starts the zygote as an interpreter *before* importing torch itself:
    the zygote, which the kernel's OOM killer takes first, is then the larger process."""
    return hasattr(os, "fork") and not secrets_loaded() and not secret_environment()


def fork_zygote(ctrl_fd: int, stderr_fd: int, cwd: str, env: dict):
    """Fork the zygote from this process (torch already imported); None if this
    process may not be forked for it (an answer is loaded, torch is not, or the
    environment names a secret: ``may_fork``)."""
    if "torch" not in sys.modules or not may_fork():
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
