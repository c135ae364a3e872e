"""The warm server: repeated `grade` calls without paying for torch each time.

The first `grade` starts it (``python -m grader.commands.server``, in a session of its
own); it imports torch and pytest once, forks its warm worker (the zygote) before
loading any answer, and then grades one request after another until it has been
idle for 15 minutes (``GRADER_SERVER_IDLE`` seconds).  A later `grade` is a
small client: it checks the command line itself, hands the server its terminal
(its standard input, output and error, passed over the socket) with its
arguments, folder, umask and colour settings, and exits with the status the
server sends back.  The report is the one `grade --no-server` prints, byte for
byte: the server runs the very same `grader.cli.main`.

Private to the user: the socket lives in a 0700 folder of the user's own
(``$XDG_RUNTIME_DIR/nngrade`` or ``/tmp/nngrade-<uid>``; ``GRADER_SERVER_DIR``
overrides), a folder with any other owner or mode is not used, and the server
serves only peers of its own uid (``SO_PEERCRED``).  One server per installation
and interpreter; it exits and is replaced when the grader's code (or the
interpreter, or an environment variable that changes grading) is not what it
started with.  The trust boundary is unchanged: the server is the grader's side,
and student code still runs in forked, isolated workers.

Not used with ``--no-server``, ``--debug``, ``GRADER_NO_SERVER=1`` or ``CI`` set;
where the server cannot start, `grade` grades in its own process as before.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import struct
import sys
import time
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
IDLE_DEFAULT = 15 * 60
# environment variables that may change a report: a server started under others is replaced
FINGERPRINT_ENV = ("GRADER_", "CUDA_", "PYTORCH_", "TORCH_", "OMP_", "MKL_", "PYTHON")
# the client's settings a request carries (how the report looks on its terminal)
REQUEST_ENV = ("NO_COLOR", "FORCE_COLOR", "TERM", "COLUMNS", "LINES")
MAX_MESSAGE = 1 << 20
PRELOAD_AFTER = 2.0  # seconds idle after a request before the zygote preloads torch.optim


def enabled(args) -> bool:
    env = os.environ
    return not (getattr(args, "no_server", False) or getattr(args, "debug", False)
                or env.get("GRADER_NO_SERVER", "") not in ("", "0") or env.get("CI", "") not in ("", "0", "false"))


def idle_seconds() -> float:
    try:
        return max(0.1, float(os.environ.get("GRADER_SERVER_IDLE", IDLE_DEFAULT)))
    except ValueError:
        return IDLE_DEFAULT


# -- where ------------------------------------------------------------------------

def runtime_dir(create: bool = True) -> Path | None:
    """The user's private folder for the socket, or None when there is no safe one."""
    uid = os.getuid()
    if os.environ.get("GRADER_SERVER_DIR"):
        d = Path(os.environ["GRADER_SERVER_DIR"])
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
    modification times), the interpreter and the environment that changes grading."""
    h = hashlib.sha256()
    h.update(f"{sys.executable}\0{sys.version}\0{PACKAGE_ROOT}\0".encode())
    for top in ("grader", "reference"):
        base = PACKAGE_ROOT / top
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(n for n in dirnames if n != "__pycache__")
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
    return h.hexdigest()


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
            proc = subprocess.Popen([sys.executable, "-m", "grader.commands.server", str(path), fp],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=str(d), env=env,
                                    start_new_session=True)
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
        print(f"grade: note: the warm server cannot start ({type(e).__name__}: {e}); grading without it",
              file=sys.stderr)
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
    request = {"argv": list(argv), "cwd": os.getcwd(), "fingerprint": fp, "umask": umask,
               "env": {k: os.environ[k] for k in REQUEST_ENV if k in os.environ},
               "encoding": [getattr(out, "encoding", "utf-8") or "utf-8", getattr(out, "errors", "strict") or "strict",
                            getattr(err, "encoding", "utf-8") or "utf-8",
                            getattr(err, "errors", "backslashreplace") or "backslashreplace"]}
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
        print(f"grade: warm server pid {reply['pid']}, up {reply['up']:.0f} s, {reply['served']} "
              f"request{'s' if reply['served'] != 1 else ''} served, exits after {reply['idle']:g} s idle; "
              f"socket {path}")
    return 0


# -- the server ------------------------------------------------------------------------

class Server:
    def __init__(self, path: Path, fp: str):
        self.path = Path(path)
        self.fp = fp
        self.idle = idle_seconds()
        self.started = time.time()
        self.served = 0
        self.zygote = None
        self.preloaded = False
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        old = os.umask(0o077)
        try:
            self.listener.bind(str(self.path))
        finally:
            os.umask(old)
        self.ino = os.stat(self.path).st_ino
        self.listener.listen(16)

    def prepare(self) -> None:
        """What every request needs, loaded once: torch, the zygote (forked now, before any
        answer is loaded here), pytest and the grading plugin, the report templates."""
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch  # noqa: F401

        from grader.transport.processes import Zygote

        self.zygote = Zygote(fork=True, warm_meta=True)
        import grader.feedback.report  # noqa: F401
        import grader.harness.run  # noqa: F401

    def _zygote(self):
        from grader.transport.processes import Zygote

        if self.zygote.proc.poll() is not None:  # a submission killed it: an interpreter of its own now
            self.zygote.close()
            self.zygote = Zygote(warm_meta=True)
            self.preloaded = False
        return self.zygote

    def serve_forever(self) -> None:
        try:
            while True:
                conn = self._accept()
                if conn is None:
                    return
                with conn:
                    try:
                        if not self._handle(conn):
                            return
                    except Exception as e:  # one bad connection never ends the server
                        _log(f"connection failed: {type(e).__name__}: {e}")
        finally:
            self.close()

    def _accept(self):
        """The next connection, None once idle for ``self.idle`` seconds.  Idle for 2 s
        after a request, the zygote preloads torch.optim (and torch._dynamo: seconds, once),
        so that exercises 7 and 9 regrade fast too, without slowing a request down."""
        if self.served and not self.preloaded:
            self.listener.settimeout(min(PRELOAD_AFTER, self.idle))
            try:
                return self.listener.accept()[0]
            except socket.timeout:
                self.preloaded = True
                try:
                    self._zygote().preload_now()
                except (OSError, RuntimeError) as e:
                    _log(f"preload failed: {e}")
        self.listener.settimeout(self.idle)
        try:
            return self.listener.accept()[0]
        except socket.timeout:
            return None

    def close(self) -> None:
        try:
            if os.stat(self.path).st_ino == self.ino:
                self.path.unlink()
        except OSError:
            pass
        self.listener.close()
        if self.zygote is not None:
            self.zygote.close()

    def _handle(self, conn) -> bool:
        """One connection; False when the server should exit."""
        pid, uid, _gid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                             struct.calcsize("3i")))
        if uid != os.getuid():
            _log(f"refused a connection from uid {uid} (pid {pid})")
            return True
        try:
            data, fds, _flags, _addr = socket.recv_fds(conn, MAX_MESSAGE, 3)
        except OSError:
            return True
        try:
            try:
                req = json.loads(data) if data else {}
            except ValueError:
                return True
            if "control" in req:
                me = {"pid": os.getpid(), "up": time.time() - self.started, "served": self.served,
                      "idle": self.idle, "fingerprint": self.fp}
                conn.sendall(json.dumps(me).encode())
                return req["control"] != "stop"
            if req.get("fingerprint") != self.fp:
                conn.sendall(json.dumps({"restart": True, "pid": os.getpid()}).encode())
                return False
            if len(fds) != 3:
                return True
            mine, fds = fds, []
            code = self._grade(conn, req, mine)  # it closes them
            self.served += 1
            try:
                conn.sendall(json.dumps({"exit": code}).encode())
            except OSError:
                pass
            return True
        finally:
            for fd in fds:
                os.close(fd)

    def _grade(self, conn, req: dict, fds) -> int:
        from grader import cli

        import codecs

        enc = list(req.get("encoding") or [])
        default = ["utf-8", "strict", "utf-8", "backslashreplace"]
        enc = [e if isinstance(e, str) else d for e, d in zip(enc + default[len(enc):], default)]
        for i in (0, 2):
            try:
                codecs.lookup(enc[i])
                codecs.lookup_error(enc[i + 1])
            except LookupError:
                enc[i:i + 2] = default[i:i + 2]
        os.close(fds[0])
        out = open(fds[1], "w", encoding=enc[0], errors=enc[1], closefd=True)
        err = open(fds[2], "w", encoding=enc[2], errors=enc[3], closefd=True)
        saved = (sys.stdout, sys.stderr, os.getcwd(), dict(os.environ), os.umask(int(req.get("umask", 0o022))))
        code = 3
        watcher = _Hangup(conn)
        try:
            try:
                os.chdir(req["cwd"])
                for k in REQUEST_ENV:
                    os.environ.pop(k, None)
                os.environ.update({k: v for k, v in (req.get("env") or {}).items() if k in REQUEST_ENV})
                sys.stdout, sys.stderr = out, err
                watcher.start()
                try:
                    code = cli.main(list(req["argv"]), zygote=self._zygote(), serve=False)
                finally:
                    watcher.stop()
            except KeyboardInterrupt:  # the client went away (Ctrl-C): its grading is abandoned
                code = 130
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 2
            except Exception as e:  # never let one request end the server
                _log(f"request failed: {type(e).__name__}: {e}")
                code = 3
        except KeyboardInterrupt:
            code = 130
        finally:
            sys.stdout, sys.stderr = saved[0], saved[1]
            for f in (out, err):
                try:
                    f.close()
                except OSError:
                    pass
            try:
                os.chdir(saved[2])
            except OSError:
                pass
            os.environ.clear()
            os.environ.update(saved[3])
            os.umask(saved[4])
        return code


class _Hangup:
    """While a request runs: if its client goes away (Ctrl-C), interrupt the grading."""

    def __init__(self, conn):
        import threading

        self.conn = conn
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.done.set()
        self.thread.join()

    def _watch(self):
        import _thread
        import select

        poller = select.poll()
        poller.register(self.conn, select.POLLIN | select.POLLHUP | select.POLLERR)
        while not self.done.is_set():
            if poller.poll(50):  # the client sends nothing more: readable means it closed
                if not self.done.is_set():
                    _thread.interrupt_main()
                return


def _log(message: str) -> None:
    print(time.strftime("%Y-%m-%d %H:%M:%S"), message, file=sys.__stderr__, flush=True)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    path, fp = Path(argv[0]), argv[1]
    import signal

    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # only a client's hang-up interrupts a request
    # a daemon: the grade that started this process waits only until the socket listens,
    # and the server is nobody's child (no grade --watch finds it among its processes)
    r, w = os.pipe()
    if os.fork():
        os.close(w)
        os._exit(0 if os.read(r, 1) == b"1" else 1)
    os.close(r)
    try:
        server = Server(path, fp)
    except OSError as e:
        _log(f"cannot listen on {path}: {e}")
        os._exit(1)
    os.write(w, b"1")
    os.close(w)
    _log(f"server {os.getpid()} listening on {path}")
    try:
        server.prepare()
    except BaseException as e:
        _log(f"cannot start: {type(e).__name__}: {e}")
        server.close()
        os._exit(1)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # for interrupt_main
    server.serve_forever()
    _log(f"server {os.getpid()} exits after {server.served} requests")
    os._exit(0)  # skip torch's slow teardown


if __name__ == "__main__":
    main()
