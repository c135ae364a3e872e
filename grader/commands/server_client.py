"""The warm server's client side: what `grade` calls (``run``, ``enabled``, ``control``).

Where the user's private socket folder is, which server a socket belongs to (one per
installation and interpreter), the fingerprint of what grading depends on, and the
request that hands the server this terminal.  Standard library only: `grade` imports it
at start-up.  The server process itself is ``grader.commands.server``.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import sys
import time
from pathlib import Path

from grader import settings

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# environment variables that may change a report: a server started under others is replaced
FINGERPRINT_ENV = ("GRADER_", "CUDA_", "PYTORCH_", "TORCH_", "OMP_", "MKL_", "PYTHON")
# the client's settings a request carries (how the report looks on its terminal)
REQUEST_ENV = ("NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS", "LINES")
MAX_MESSAGE = 1 << 20
PRELOAD_AFTER = 2.0  # seconds idle after a request before the zygote preloads torch.optim


def enabled(args) -> bool:
    return not (
        getattr(args, "no_server", False)
        or getattr(args, "debug", False)
        or settings.NO_SERVER.value()
        or settings.CI.value()
    )


def idle_seconds() -> float:
    return settings.SERVER_IDLE.value()


# -- where ------------------------------------------------------------------------


def runtime_dir(create: bool = True) -> Path | None:
    """The user's private folder for the socket, or None when there is no safe one."""
    uid = os.getuid()
    chosen = settings.SERVER_DIR.value()
    if chosen:
        d = Path(chosen)
    elif os.environ.get("XDG_RUNTIME_DIR") and _private(Path(os.environ["XDG_RUNTIME_DIR"]), uid):
        d = Path(os.environ["XDG_RUNTIME_DIR"]) / "nngrade"
    else:
        import tempfile

        d = Path(tempfile.gettempdir()) / f"nngrade-{uid}"
    if create:
        try:
            d.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            return None
    return d if _private(d, uid) else None


def _private(d: Path, uid: int) -> bool:
    try:
        st = os.lstat(d)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == uid and not (st.st_mode & 0o077)


def socket_path(d: Path) -> Path:
    """One server per installation and interpreter."""
    key = hashlib.sha256(f"{sys.executable}\0{PACKAGE_ROOT}".encode()).hexdigest()[:12]
    return d / f"grade-{key}.sock"


def fingerprint() -> str:
    """What the server's grading depends on: the grader's files (names, sizes,
    modification times), the course's when it is not the built-in one (``--course``), the
    interpreter, the environment that changes grading (``GRADER_COURSE`` among it), and the
    installed packages (torch's version among them)."""
    h = hashlib.sha256()
    h.update(f"{sys.executable}\0{sys.version}\0{PACKAGE_ROOT}\0".encode())
    for base in [PACKAGE_ROOT / "grader", PACKAGE_ROOT / "reference", *_course_folders()]:
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(n for n in dirnames if n != "__pycache__" and not n.startswith("."))
            for name in sorted(filenames):
                if name.endswith((".pyc", ".pyo")):
                    continue
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except OSError:
                    continue
                h.update(f"{dirpath}/{name}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    for k in sorted(os.environ):
        if k.startswith(FINGERPRINT_ENV) and k not in ("PYTHONSTARTUP",):
            h.update(f"{k}={os.environ[k]}\0".encode())
    h.update(_installed().encode())
    return h.hexdigest()


def _course_folders() -> list:
    """The folders of the course in use (``--course``/``GRADER_COURSE``) that grading reads: its
    own and those of its suites, references and tables; none for the built-in course."""
    from grader import course

    if course.chosen() is None:
        return []
    try:
        chosen = course.current()
    except course.CourseError:
        return []
    if chosen.builtin:
        return []
    read = [chosen.forbidden, chosen.imports] + [
        chosen.path(kind, ex) for ex in chosen.exercises for kind in ("suite", "reference")
    ]
    folders = {chosen.root.resolve()} | {p.parent for p in read if p is not None}
    # a folder inside another is walked with it
    return sorted(f for f in folders if not any(f != g and f.is_relative_to(g) for g in folders))


def _installed() -> str:
    """The installed packages as the import system finds them, without importing any: every
    distribution's metadata folder on ``sys.path`` (its name holds the version; its inode and
    modification time change when it is reinstalled), the ``.pth`` and ``.egg-link`` files, and
    torch's own ``version.py`` (a build from source has no metadata folder).  About a
    millisecond; an upgrade of torch or of any package replaces the server."""
    out = []
    torch_seen = False
    for entry in sys.path[1:]:
        # sys.path[0] is the folder of the command or, with `python -m`, the folder it ran in: the
        # student's, not the installation, and not the same for the client and the server
        if not entry or not os.path.isdir(entry):
            continue
        try:
            with os.scandir(entry) as it:
                found = sorted(
                    (e.name, e.inode(), e.stat().st_mtime_ns)
                    for e in it
                    if e.name.endswith((".dist-info", ".egg-info", ".pth", ".egg-link"))
                )
        except OSError:
            continue
        out.append(f"{entry}\0" + "".join(f"{n}:{i}:{m}\0" for n, i, m in found))
        if not torch_seen:
            version = os.path.join(entry, "torch", "version.py")
            try:
                with open(version, "rb") as f:
                    out.append(f"torch:{entry}\0" + f.read(4096).decode("utf-8", "replace"))
                torch_seen = True
            except OSError:
                pass
    return "\n".join(out)


# -- the client ---------------------------------------------------------------------


def _connect(path: Path):
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    except OSError:  # no such sockets here: no server either
        return None
    try:
        s.connect(str(path))
        return s
    except OSError:
        s.close()
        return None


def _ask(conn, message: dict, fds=()):
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(conn, [data], list(fds))
    else:
        conn.sendall(data)
    reply = conn.recv(MAX_MESSAGE)
    return json.loads(reply) if reply else None


def _start(d: Path, path: Path, fp: str):
    """Start a server (one at a time: under a lock) and connect to it; None if it did not come up."""
    import fcntl
    import subprocess

    with open(d / (path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn = _connect(path)  # another grade started it meanwhile
        if conn is not None:
            return conn
        try:
            path.unlink()  # a socket nobody listens on: its server is gone
        except FileNotFoundError:
            pass
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
        with open(d / (path.stem + ".log"), "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "grader.commands.server", str(path), fp],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd=str(d),
                env=env,
                start_new_session=True,
            )
        try:  # it forks the server proper and exits once that listens (0) or cannot (1)
            if proc.wait(timeout=60) != 0:
                return None
        except subprocess.TimeoutExpired:
            proc.kill()
            return None
        return _connect(path)


def _start_or_none(d: Path, path: Path, fp: str):
    """`_start`, or None whatever stops it (an interpreter it may not execute, a full disk, a lock
    it cannot take): where the server cannot start, grade grades by itself."""
    try:
        return _start(d, path, fp)
    except KeyboardInterrupt:
        raise
    except Exception as e:
        print(
            f"grade: note: the warm server cannot start ({type(e).__name__}: {e}); grading without it", file=sys.stderr
        )
        return None


def run(argv: list) -> int | None:
    """Have the warm server run `grade ARGV` on this terminal: its exit status,
    or None if there is no server to be had (the caller grades by itself)."""
    d = runtime_dir()
    if d is None:
        return None
    path = socket_path(d)
    fp = fingerprint()
    out, err = sys.stdout, sys.stderr
    try:
        out.flush()
        err.flush()
        fds = (sys.stdin.fileno() if sys.stdin else os.open(os.devnull, os.O_RDONLY), out.fileno(), err.fileno())
    except (AttributeError, OSError, ValueError):
        return None  # no real descriptors to hand over (an embedding program): grade here
    umask = os.umask(0o022)
    os.umask(umask)
    request = {
        "argv": list(argv),
        "cwd": os.getcwd(),
        "fingerprint": fp,
        "umask": umask,
        "env": {k: os.environ[k] for k in REQUEST_ENV if k in os.environ},
        "encoding": [
            getattr(out, "encoding", "utf-8") or "utf-8",
            getattr(out, "errors", "strict") or "strict",
            getattr(err, "encoding", "utf-8") or "utf-8",
            getattr(err, "errors", "backslashreplace") or "backslashreplace",
        ],
    }
    for _ in range(3):
        try:
            conn = _connect(path) or _start_or_none(d, path, fp)
            if conn is None:
                return None
            with conn:  # closing it (Ctrl-C) makes the server abandon the grading
                try:
                    reply = _ask(conn, request, fds)
                except (OSError, ValueError):
                    reply = None
        except KeyboardInterrupt:
            print("\ngrade: interrupted", file=sys.stderr)
            return 130
        if reply is None:
            print("grade: the warm server stopped unexpectedly; grading without it", file=sys.stderr)
            return None
        if reply.get("restart"):  # it runs older code: it is exiting, start a new one
            _wait_gone(path, reply.get("pid"))
            continue
        return int(reply.get("exit", 3))
    return None


def _wait_gone(path: Path, pid, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and path.exists():
        time.sleep(0.01)


def control(action: str) -> int:
    """`grade server status|stop`."""
    d = runtime_dir(create=False)
    path = socket_path(d) if d else None
    conn = _connect(path) if path else None
    if conn is None:
        print("grade: no warm server is running" + (f" (socket folder {d})" if d else ""))
        return 0 if action == "stop" else 1
    with conn:
        reply = _ask(conn, {"control": action})
    if reply is None:
        print("grade: the warm server did not answer", file=sys.stderr)
        return 3
    if action == "stop":
        _wait_gone(path, reply.get("pid"))
        print(f"grade: warm server {reply.get('pid')} stopped")
    else:
        print(
            f"grade: warm server pid {reply['pid']}, up {reply['up']:.0f} s, {reply['served']} "
            f"request{'s' if reply['served'] != 1 else ''} served, exits after {reply['idle']:g} s idle; "
            f"socket {path}"
        )
    return 0
