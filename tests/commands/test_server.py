"""The edit-grade loop: the warm server and `grade --watch`,
as a student uses them; the cold start's two savings (grader.untrusted.startup).

How fast they are is measured by bench/ (warm_server.py, watch_latency.py,
startup_ratio.py), not here: these tests check behaviour."""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Slow by design: every test starts a cold `grade`, most of them a warm server too.
pytestmark = pytest.mark.slow

BUGGY = ROOT / "tests" / "corpus" / "exercise1" / "bug_no_keepdim.py"
STUB = ROOT / "exercises" / "exercise1_softmax.py"
MODEL = ROOT / "solutions" / "exercise1_softmax.py"


def _env(server_dir: Path, **extra) -> dict:
    env = dict(os.environ)
    env.pop("GRADER_NO_SERVER", None)
    env.pop("CI", None)
    env["GRADER_SERVER_DIR"] = str(server_dir)
    env["PYTHONPATH"] = str(ROOT)  # this checkout's grader, from any folder
    env.update({k: str(v) for k, v in extra.items()})
    return env


def _grade(env, *args, cwd=ROOT, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _status(env, cwd=ROOT):
    r = _grade(env, "server", "status", cwd=cwd)
    m = re.search(r"pid (\d+), up \d+ s, (\d+) requests? served", r.stdout)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def server_dir():
    # under /tmp itself (not pytest's private folder): test_another_user_... opens it to others
    d = Path(tempfile.mkdtemp(prefix="nngrade-test-"))
    yield d
    _stop_all(d)
    shutil.rmtree(d, ignore_errors=True)


def _stop_all(d: Path) -> None:
    for sock in d.glob("*.sock"):  # stop whatever server a test left
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
                s.connect(str(sock))
                s.sendall(b'{"control": "stop"}')
                s.recv(4096)
        except OSError:
            pass


@pytest.fixture
def buggy(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    shutil.copyfile(BUGGY, folder / "exercise1_softmax.py")
    return folder


def test_second_call_is_served_by_the_warm_server_with_the_same_report(server_dir, buggy):
    env = _env(server_dir)
    assert _status(env) is None
    first = _grade(env, "exercise1", "--submission", buggy)
    started = _status(env)
    assert started is not None and started[1] == 1, first.stderr
    second = _grade(env, "exercise1", "--submission", buggy)
    assert _status(env) == (started[0], 2)  # the same server served it
    alone = _grade(env, "exercise1", "--submission", buggy, "--no-server")
    assert _status(env) == (started[0], 2)  # --no-server did not use it
    assert first.returncode == second.returncode == alone.returncode == 1
    assert "Total:" in alone.stdout and "Traceback" not in second.stderr
    assert first.stdout == second.stdout == alone.stdout  # byte for byte
    # relative paths are the caller's, and files written through the server are the caller's
    rel = _grade(env, "exercise1", "--submission", "work", "--output", "out/r.json", cwd=buggy.parent)
    assert rel.returncode == 1 and (buggy.parent / "out" / "r.json").is_file(), rel.stderr
    assert _status(env) == (started[0], 3)
    # a user mistake is still answered by the client, in one line
    bad = _grade(env, "exercise42")
    assert bad.returncode == 2 and "no exercise called" in bad.stderr and _status(env) == (started[0], 3)


def test_server_is_replaced_when_the_graders_code_changes(server_dir, tmp_path):
    copy = tmp_path / "copy"
    for part in ("grader", "reference"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    env = _env(server_dir, PYTHONPATH=copy)
    assert _grade(env, "exercise1", "--submission", ROOT / "solutions", cwd=copy).returncode == 0
    pid, served = _status(env, cwd=copy)
    assert served == 1
    report = copy / "grader" / "feedback" / "report.py"
    later = report.stat().st_mtime + 5
    os.utime(report, (later, later))
    r = _grade(env, "exercise1", "--submission", ROOT / "solutions", cwd=copy)
    assert r.returncode == 0 and "Total: 10.00 / 10" in r.stdout, r.stderr
    new_pid, served = _status(env, cwd=copy)
    assert new_pid != pid and served == 1
    assert _wait(lambda: not _alive(pid), 30)


def test_a_course_of_one_s_own_is_graded_by_the_warm_server_and_its_edits_replace_it(server_dir, tmp_path):
    """--course: the warm server grades the example course's LayerNorm (full marks for the model
    answer, the unbiased variance named by its hint, the report byte for byte the --no-server one),
    and an edit of the course's files replaces the server as an edit of the grader's does."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "examples" / "course", course, ignore=shutil.ignore_patterns("__pycache__"))
    folder = course / "exercise1_layer_norm"
    model, bug = tmp_path / "model", tmp_path / "bug"
    for work, source in ((model, folder / "solution.py"), (bug, folder / "mistakes" / "bug_unbiased_variance.py")):
        work.mkdir()
        shutil.copyfile(source, work / "exercise1_layer_norm.py")
    hint = (folder / "mistakes" / "bug_unbiased_variance.py").read_text().splitlines()[0].removeprefix("# hint: ")
    env = _env(server_dir)
    full = _grade(env, "layer_norm", "--course", course, "--submission", model)
    assert full.returncode == 0 and "Total: 10.00 / 10" in full.stdout, full.stdout + full.stderr
    pid, served = _status(env)
    assert served == 1
    served_bug = _grade(env, "1", "--course", course, "--submission", bug)
    assert _status(env) == (pid, 2)  # the same server: the course in use is the one it was started with
    alone = _grade(env, "1", "--course", course, "--submission", bug, "--no-server")
    assert served_bug.returncode == alone.returncode == 1 and re.search(hint, served_bug.stdout), served_bug.stdout
    assert served_bug.stdout == alone.stdout  # byte for byte
    reference = folder / "reference.py"
    later = reference.stat().st_mtime + 5
    os.utime(reference, (later, later))
    again = _grade(env, "1", "--course", course, "--submission", model)
    assert again.returncode == 0 and "Total: 10.00 / 10" in again.stdout, again.stderr
    new_pid, served = _status(env)
    assert new_pid != pid and served == 1


def test_server_exits_when_idle(server_dir):
    env = _env(server_dir, GRADER_SERVER_IDLE=2)
    assert _grade(env, "exercise1", "--submission", ROOT / "solutions").returncode == 0
    status = _status(env)
    assert status is not None
    assert _wait(lambda: not _alive(status[0]), 60), "the server did not exit after 2 idle seconds"
    assert not list(server_dir.glob("*.sock"))


def _as_nobody(sock: Path) -> str:
    """What a client running as another user (uid 65534) gets from the server's socket."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                s.connect(str(sock))
            except OSError as e:
                answer = f"refused {e.errno}"
            else:
                try:
                    s.sendall(b'{"control": "status"}')
                    s.settimeout(30)
                    answer = f"reply {s.recv(4096)!r}"
                except (BrokenPipeError, ConnectionResetError):
                    answer = "reply b''"  # closed on us
            os.write(w, answer.encode())
        finally:
            os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    with os.fdopen(r) as f:
        return f.read()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root, to run a client as another user (uid 65534)")
def test_another_user_cannot_use_the_server(server_dir):
    env = _env(server_dir)
    assert _grade(env, "exercise1", "--submission", ROOT / "solutions").returncode == 0
    pid, served = _status(env)
    (sock,) = server_dir.glob("*.sock")
    # the folder is the user's alone: another user cannot even reach the socket
    assert _as_nobody(sock).startswith("refused")
    # and were the folder and socket opened to everyone, the server still serves its own user only
    os.chmod(server_dir, 0o755)
    os.chmod(sock, 0o777)
    assert _as_nobody(sock) == "reply b''"
    os.chmod(server_dir, 0o700)
    assert _status(env) == (pid, served)  # still there, untouched


def test_a_folder_others_can_enter_is_not_used(tmp_path):
    d = tmp_path / "shared"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    r = _grade(_env(d), "exercise1", "--submission", ROOT / "solutions")
    assert r.returncode == 0 and "Total: 10.00 / 10" in r.stdout  # graded without a server
    assert not list(d.iterdir())


# -- the terminal: --watch and progress, under a pseudo-terminal ----------------------------------


class Terminal:
    """`grade ARGS` on a pseudo-terminal of its own, as a student's shell runs it."""

    def __init__(self, args, env, cwd=ROOT):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.chdir(cwd)
                os.execve(sys.executable, [sys.executable, "-m", "grader.cli", *map(str, args)], env)
            finally:
                os._exit(127)
        self.out = b""

    def read_until(self, pattern: str, timeout=300.0, start: int = 0) -> str:
        rx = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        while not rx.search(self.out, start):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not seen; the terminal showed:\n{self.text()[-3000:]}")
            if select.select([self.fd], [], [], min(left, 0.5))[0]:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    data = b""
                if not data:
                    raise AssertionError(f"{pattern!r} not seen before exit:\n{self.text()[-3000:]}")
                self.out += data
        return self.text()

    def text(self) -> str:
        return self.out.decode("utf-8", "replace")

    def wait(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            try:
                if select.select([self.fd], [], [], 0.1)[0]:
                    self.out += os.read(self.fd, 65536)
            except OSError:
                time.sleep(0.1)
        os.kill(self.pid, signal.SIGKILL)
        raise AssertionError("grade did not exit")

    def close(self):
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


def _descendants(pid: int) -> set:
    children: dict = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in found:
                found.add(c)
                todo.append(c)
    return found


@pytest.mark.parametrize("mode", ["no-server", "server"])
def test_watch_regrades_after_a_save_and_ctrl_c_leaves_nothing_running(mode, tmp_path, server_dir):
    folder = tmp_path / "work"
    folder.mkdir()
    target = folder / "exercise1_softmax.py"
    shutil.copyfile(STUB, target)
    env = _env(server_dir, TERM="xterm")
    args = ["exercise1", "--submission", folder, "--watch"] + (["--no-server"] if mode == "no-server" else [])
    term = Terminal(args, env)
    try:
        term.read_until(r"Total: 0\.00 / 10[\s\S]*Watching exercise1_softmax\.py")
        mark = len(term.out)
        time.sleep(0.05)
        shutil.copyfile(MODEL, target)  # the student saves a correct answer
        term.read_until(r"Total: 10\.00 / 10[\s\S]*Watching", start=mark)
        assert b"\x1b[2J" in term.out[mark:]  # the screen was redrawn
        time.sleep(0.2)
        running = _descendants(term.pid)
        if mode == "no-server":
            assert running, "grade --watch --no-server keeps a warm worker between saves"
        os.write(term.fd, b"\x03")  # Ctrl-C
        assert term.wait() in (0, 130)
        assert _wait(lambda: not any(_alive(p) for p in running), 30), (
            f"left running after Ctrl-C: {[p for p in running if _alive(p)]}"
        )
    finally:
        term.close()
    if mode == "server":  # the warm server stays (that is its point), with no grading left running
        status = _status(env)
        assert status is not None and status[1] >= 2
        assert _wait(lambda: len(_descendants(status[0])) <= 1, 30)  # its zygote, and no worker


def test_grade_all_shows_progress_on_a_terminal(tmp_path):
    env = dict(os.environ, TERM="xterm")
    term = Terminal(["1", "2", "--submission", ROOT / "solutions", "--no-server"], env)
    try:
        screen = term.read_until(r"Total: 20\.00 / 20")
        assert term.wait() == 0
    finally:
        term.close()
    assert "grading exercise1 (Softmax)" in screen and "grading exercise2 (Log-softmax)" in screen
    assert screen.index("grading exercise1") < screen.index("grading exercise2") < screen.index("Grade report")


# -- the cold start (grader.untrusted.startup) -------------------------------------------------------------


def test_zygote_is_forked_only_before_an_answer_is_loaded():
    code = r"""
import os, socket, sys
import torch
from grader.untrusted import startup
from grader.transport.processes import Zygote
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
assert startup.secrets_loaded() == []
z = Zygote(fork=True)
assert isinstance(z.proc, startup.ForkedZygote), type(z.proc)
z.wait_ready(); z.close()
import grader.harness.run  # the grading plugin and pytest: an answer may now be in this process
assert "grader.harness.run" in startup.secrets_loaded()
assert startup.fork_zygote(b.fileno(), 2, "/", dict(os.environ)) is None
z = Zygote(fork=True)  # falls back to a fresh interpreter
assert not isinstance(z.proc, startup.ForkedZygote)
z.wait_ready(); z.close()
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.stdout.strip() == "ok", r.stderr


def test_meta_operations_do_not_import_dynamo_and_give_the_same_results():
    code = r"""
import sys, torch
from grader.untrusted.warmup import defer_dynamo
x = torch.randn(4, 5)
expected = torch.log_softmax(x, -1), torch.logsumexp(x, -1)
assert defer_dynamo() > 0
m = x.to("meta")
for got in (torch.log_softmax(m, -1), torch.logsumexp(m, -1), m.max(dim=-1).values, torch.softmax(m, -1)):
    assert got.device.type == "meta"
assert "torch._dynamo" not in sys.modules, "a meta operation imported torch._dynamo"
import torch._dynamo  # once dynamo is there (a student's torch.compile), torch's own wrapper is used
assert torch.logsumexp(m, -1).shape == (4,)
got = torch.compile(lambda t: torch.log_softmax(t, -1), backend="eager")(x)
assert torch.equal(got, expected[0]) and torch.equal(torch.logsumexp(x, -1), expected[1])
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.stdout.strip() == "ok", r.stderr


SNOOP = """
import gc, sys

SECRET = ("reference", "solutions", "grader.suites", "grader.harness.plugin", "grader.harness.run", "grader.verdicts.checks")


def _secret(name):
    return isinstance(name, str) and any(name == s or name.startswith(s + ".") for s in SECRET)


def _look():
    found = {m for m in sys.modules if _secret(m)}
    f = sys._getframe()
    while f is not None:  # every frame above the call, up to the process's first (the grader's, if forked)
        for scope in (f.f_locals, f.f_globals):
            for v in list(scope.values()):
                if _secret(getattr(v, "__name__", None)) or _secret(getattr(v, "__module__", None)):
                    found.add(repr(v)[:80])
        f = f.f_back
    for obj in gc.get_objects():
        if _secret(getattr(obj, "__module__", None)) if isinstance(obj, type) else False:
            found.add(repr(obj)[:80])
    return sorted(found)


def softmax(x):
    found = _look()
    raise RuntimeError(f"FOUND {found}" if found else "NOTHING FOUND")
"""


def test_a_forked_zygote_holds_no_answer(server_dir, tmp_path):
    """The zygote forked from `grade` (and from the warm server) has nothing of the
    answers: not in its modules, its frames, nor its objects."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "exercise1_softmax.py").write_text(SNOOP)
    env = _env(server_dir)
    runs = [
        _grade(env, "exercise1", "--submission", folder, "--no-server"),
        _grade(env, "exercise1", "--submission", folder),  # starts the server
        _grade(env, "exercise1", "--submission", folder),
    ]  # served by it
    assert _status(env)[1] == 2
    for r in runs:
        assert "NOTHING FOUND" in r.stdout and "FOUND [" not in r.stdout, r.stdout[-3000:] + r.stderr


def test_help_teaches_the_loop_and_server_verbs_fail_clearly(server_dir):
    env = _env(server_dir)
    help_text = _grade(env, "--help").stdout
    for text in ("--watch", "--no-server", "grade server", "15 idle minutes"):
        assert text in help_text
    bad = _grade(env, "server", "restart")
    assert bad.returncode == 2 and "grade server status|stop" in bad.stderr and "Traceback" not in bad.stderr
    none = _grade(env, "server", "status")
    assert none.returncode == 1 and "no warm server is running" in none.stdout
    assert _grade(env, "server", "stop").returncode == 0
