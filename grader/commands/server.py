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
interpreter, or an environment variable that changes grading, or the course in
use and its files, ``--course``) is not what it started with.  The trust boundary is unchanged: the server is the grader's side,
and student code still runs in forked, isolated workers.

Not used with ``--no-server``, ``--debug``, ``GRADER_NO_SERVER=1`` or ``CI`` set;
where the server cannot start, `grade` grades in its own process as before.

This module is the server process; what `grade` calls to reach it (``run``,
``enabled``, ``control``) is ``grader.commands.server_client``, re-exported here.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import time
from pathlib import Path

# the client side, which `grade` calls; its names stay importable from here
from grader.commands.server_client import (  # noqa: F401
    FINGERPRINT_ENV,
    MAX_MESSAGE,
    PACKAGE_ROOT,
    PRELOAD_AFTER,
    REQUEST_ENV,
    control,
    enabled,
    fingerprint,
    idle_seconds,
    run,
    runtime_dir,
    socket_path,
)

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
            except TimeoutError:
                self.preloaded = True
                try:
                    self._zygote().preload_now()
                except (OSError, RuntimeError) as e:
                    _log(f"preload failed: {e}")
        self.listener.settimeout(self.idle)
        try:
            return self.listener.accept()[0]
        except TimeoutError:
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
        pid, uid, _gid = struct.unpack(
            "3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        )
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
                me = {
                    "pid": os.getpid(),
                    "up": time.time() - self.started,
                    "served": self.served,
                    "idle": self.idle,
                    "fingerprint": self.fp,
                }
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
        import codecs

        from grader import cli

        enc = list(req.get("encoding") or [])
        default = ["utf-8", "strict", "utf-8", "backslashreplace"]
        enc = [e if isinstance(e, str) else d for e, d in zip(enc + default[len(enc) :], default)]
        for i in (0, 2):
            try:
                codecs.lookup(enc[i])
                codecs.lookup_error(enc[i + 1])
            except LookupError:
                enc[i : i + 2] = default[i : i + 2]
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
