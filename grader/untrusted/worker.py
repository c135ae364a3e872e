"""The student side of the trust boundary.

``python -m grader.untrusted.worker FD`` starts a *zygote*: it imports torch once and
then waits on the control socket FD.  For every ``spawn`` request it forks a
fresh worker that closes every inherited descriptor, starts its own session,
sets its resource limits, sends its output to a capped file and then serves
requests on its own socket (``grader.untrusted.server``): load one student file,
call a function, read an attribute, compute a vector-Jacobian product.  Each
reply is plain data (see ``grader.wire.codec``); nothing here decides a
grade, and no worker may import the reference, the hidden suites or the
grader's verdicts (``grader.untrusted.boundary``).

When a worker ends, the zygote writes its exit status to the status socket
that the grader holds for it, so a crash is reported as what it was.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

from grader import settings
from grader.untrusted import boundary
from grader.untrusted.limits import apply_limits
from grader.untrusted.server import Server
from grader.untrusted.syscalls import host_pid, set_child_subreaper, set_pdeathsig
from grader.wire import codec

_status_socks: dict = {}


# ---------------------------------------------------------------------------
# zygote


def _on_sigchld(signum, frame):
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        if os.WIFSIGNALED(status):
            msg = {"signal": os.WTERMSIG(status)}
        else:
            msg = {"exit": os.WEXITSTATUS(status)}
        _reaped(pid)
        s = _status_socks.pop(pid, None)
        if s is not None:
            try:
                s.sendall(json.dumps(msg).encode())
            except OSError:
                pass
            s.close()


_cgroups: list = []  # pids whose memory cgroup is still to be removed


def _reaped(pid: int) -> None:
    """A worker has ended: remove its memory cgroup (and any left by earlier ones
    whose processes were still being torn down)."""
    iso = sys.modules.get("grader.untrusted.isolation")
    if iso is None or not (iso._plan or {}).get("cgroup"):
        return
    _cgroups.append(pid)
    _cgroups[:] = [p for p in _cgroups if not iso.remove_cgroup(p)]


def _preload() -> None:
    """Import here, once, what workers would otherwise each import lazily: the
    first torch.optim step pulls in torch._dynamo and sympy (seconds per
    worker).  For batch grading (``Zygote(preload=True)``); a single ``grade``
    would only wait longer for its first worker."""
    try:
        import inspect  # noqa: F401  (op_inspect)

        import torch

        torch.set_num_threads(1)
        m = torch.nn.Linear(3, 2)
        opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
        for p in m.parameters():  # not backward(): autograd's engine would start CUDA here,
            p.grad = torch.ones_like(p)  # and a CUDA started before a fork fails in every worker
        opt.step()
        opt.zero_grad()
    except Exception:
        pass


MADV_HUGEPAGE, MADV_COLLAPSE = 14, 25
HUGE = 1 << 21


def _huge_pages() -> None:
    """Back the zygote's anonymous memory (about 300 MB once torch is imported)
    with 2 MiB pages, where the kernel allows it (MADV_COLLAPSE, Linux 6.1+).
    A fork then copies one page-table entry per 2 MiB instead of 512 and an exit
    tears down as few: a worker's start and end cost about half as much CPU.
    Takes about half a second once; for zygotes that fork many workers."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        with open("/proc/self/maps") as f:
            regions = [line.split() for line in f]
    except (OSError, AttributeError):
        return
    for parts in regions:
        if parts[1] != "rw-p" or (len(parts) > 5 and parts[5] != "[heap]"):
            continue  # only private, writable, anonymous memory (and the heap)
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        start, end = (lo + HUGE - 1) & ~(HUGE - 1), hi & ~(HUGE - 1)
        if end > start and libc.madvise(start, end - start, MADV_HUGEPAGE) == 0:
            libc.madvise(start, end - start, MADV_COLLAPSE)  # refused where unsupported: no harm


ZYGOTE_OOM_SCORE_ADJ = 900  # between the grading process (0, usually) and its workers (1000); the kernel
# adds adj/1000 of the memory limit to a process's size when it picks one to kill


def _oom_before_the_grader() -> None:
    """When memory runs out, have the kernel's OOM killer take this zygote before the grading
    process that started it (its workers, at 1000, go first of all): the grader then lives to
    say that the grading failed, and why, instead of vanishing without a word.  Raising one's
    own score needs no privilege; a score already higher is kept."""
    try:
        with open("/proc/self/oom_score_adj", "r+") as f:
            if int(f.read().strip() or 0) < ZYGOTE_OOM_SCORE_ADJ:
                f.seek(0)
                f.write(str(ZYGOTE_OOM_SCORE_ADJ))
    except (OSError, ValueError):
        pass


def zygote(ctrl_fd: int) -> None:
    set_pdeathsig()
    _oom_before_the_grader()
    ctrl = socket.socket(fileno=ctrl_fd)
    import torch  # noqa: F401  (the point of the zygote: import it once)

    try:  # a meta tensor's first operation need not import torch._dynamo in every worker
        from grader.untrusted.warmup import defer_dynamo

        defer_dynamo()
        if settings.ZYGOTE_WARM_META.value():
            from grader.untrusted.warmup import warm_meta

            warm_meta()
    except Exception:
        pass
    try:  # what isolated workers must still see (Python, its libraries), computed once
        from grader.untrusted import isolation

        isolation.prepare()
        set_child_subreaper()  # reap the namespaces' init processes (and any orphan) when their worker ends
    except Exception:
        pass
    if settings.ZYGOTE_PRELOAD.value():
        _preload()
    if not settings.NO_FREEZE.value():
        # Everything imported so far is shared with the workers copy-on-write; keep the
        # garbage collector from touching (and so copying) all of it in every worker.
        import gc

        gc.collect()
        gc.freeze()
    if settings.ZYGOTE_HUGEPAGES.value():
        _huge_pages()
    signal.signal(signal.SIGCHLD, _on_sigchld)
    boundary.plan_seal()
    ctrl.sendall(json.dumps({"ready": True, "pid": os.getpid()}).encode())
    while True:
        try:
            data, _fds, _flags, _addr = socket.recv_fds(ctrl, 65536, 0)
        except InterruptedError:
            continue
        if not data:
            return
        req = json.loads(data)
        if req.get("op") == "preload":  # a long-lived zygote (the warm server's), asked while it is idle
            _preload()
            if not settings.NO_FREEZE.value():
                import gc

                gc.collect()
                gc.freeze()
            boundary.plan_seal()
            continue
        a, b = socket.socketpair()
        sa, sb = socket.socketpair()
        pid = _fork(req.get("limits") or {})
        if pid == 0:
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                for s in (ctrl, a, sa, sb, *_status_socks.values()):
                    s.detach()
                _status_socks.clear()
                keep = b.detach()
                _close_fds_except(keep)
                _child(socket.socket(fileno=keep), req)
            finally:
                os._exit(0)
        _status_socks[pid] = sb
        b.close()
        socket.send_fds(ctrl, [json.dumps({"pid": pid}).encode()], [a.fileno(), sa.fileno()])
        a.close()
        sa.close()


def _fork(lim: dict) -> int:
    iso = sys.modules.get("grader.untrusted.isolation")
    return iso.fork_worker(lim) if iso is not None else os.fork()


def _close_fds_except(keep: int) -> None:
    os.closerange(3, keep)
    os.closerange(keep + 1, 65536)


# ---------------------------------------------------------------------------
# one worker


def _child(sock, req) -> None:
    me = os.getpid() if os.getpid() != 1 else host_pid()  # the pid the zygote reported
    iso = apply_limits(req["limits"])
    from grader.untrusted.output import capture

    capture(
        int(req["limits"].get("output_bytes", 4 << 20))
    )  # print past the cap is cut, never an error (grader.untrusted.output)
    import torch

    torch.set_num_threads(1)
    boundary.seal()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(codec.__file__))))
    if os.path.isfile(os.path.join(root, "pyproject.toml")):  # a checkout; never site-packages
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != root]
    sys.path.insert(0, req["limits"]["workdir"])
    codec.send(sock, *codec.pack({"hello": me, "isolation": iso}))
    Server(sock).serve()


if __name__ == "__main__":
    zygote(int(sys.argv[1]))
