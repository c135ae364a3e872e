"""Namespaces, an allowlisted file-system view and an unprivileged uid for one worker.

``isolate(limits)`` runs in a freshly forked worker (``grader.untrusted.limits.apply_limits``),
after its output file is open and before any student code.  On Linux it

* puts the worker in a PID namespace of its own, as its first process (pid 1):
  as root the zygote forks it there (``fork_worker``); without root the
  worker's first process creates a user namespace with the others and forks
  the process that runs the student's code into it, then only waits for it
  and mirrors its exit status.  Either way the student's code sees no other
  process on the machine (a private ``/proc``), cannot signal any, and
  everything it starts dies with it (the kernel ends a PID namespace with its
  first process).  Threads work (a thread must share its process's PID
  namespace);
* unshares the mount, network, IPC and UTS namespaces (without root: inside
  the new user namespace), so the worker has no network at all (only a
  loopback that is down) and its mounts are its own;
* builds the worker's file-system view from an ALLOWLIST and makes it its
  root (``pivot_root``): the Python installation and the folders of its
  packages and loaded libraries, the system's library folders and a few files
  of ``/etc`` the dynamic loader and the C library read, all read-only; a few
  device nodes (``/dev/null``, ``zero``, ``full``, ``random``, ``urandom``
  and a GPU's); a fresh ``/proc``; and a small private tmpfs at the worker's
  own folder with a copy of the files the grader put there (the only place
  it can write).  Nothing else exists there: no ``/home``, ``/root``,
  ``/srv``, ``/work``, ``/opt`` or ``/tmp`` beyond what the interpreter itself
  lives in.  The course's private trees (``grader``, ``reference``, a
  checkout's ``solutions``, the hidden suites) are covered by empty folders
  even where they lie inside a kept folder (``site-packages`` after a regular
  ``pip install .``), and so are the folders a caller adds (a batch adds
  SUBMISSIONS, --out and its own work folder);
* puts the worker in a memory cgroup of its own where the machine delegates
  one (cgroup v2 with the memory controller, e.g. as root in a container, or a
  folder named by ``GRADER_CGROUP``), which bounds the memory of the worker
  and of everything it starts, files in its tmpfs included;
* switches to an unprivileged uid of its own (100000 + its pid, so that
  RLIMIT_NPROC counts only this worker's processes) with no supplementary
  groups (root), or drops the user namespace's capabilities (non-root), and
  sets ``no_new_privs`` (no setuid binary gives privileges back); in both
  cases the worker ends up in a user namespace that allows no further user
  namespaces, so it cannot mount a file system of its own (a tmpfs would
  hold memory outside every limit).

Every step that the machine refuses degrades the result instead of failing
(mode "none": limits only; "partial": namespaces but no private file view);
``isolate`` returns what it achieved (a dict), which the worker reports to
the grader (``Worker.isolation``).  ``prepare()`` runs once in the zygote and
computes what the workers keep and hide, so a worker pays only for a few
system calls (a few milliseconds; see ``bench/batch_throughput.py``).

The parts: ``grader.untrusted.syscalls`` (the system calls, through ctypes),
``grader.untrusted.rootfs`` (the allowlisted view and its root) and
``grader.untrusted.cgroup`` (the memory cgroup); this module runs the steps in
order and degrades where one is refused.
"""

from __future__ import annotations

import os
import signal
import sys

from grader.untrusted import cgroup, rootfs

# also what the tests and tests/as_user.py use of the parts (is_checkout, mount, MS_*)
from grader.untrusted.rootfs import is_checkout  # noqa: F401
from grader.untrusted.syscalls import (  # noqa: F401
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    MS_BIND,
    MS_PRIVATE,
    MS_REC,
    PR_SET_DUMPABLE,
    PR_SET_NO_NEW_PRIVS,
    PR_SET_PDEATHSIG,
    drop_capabilities,
    host_pid,
    mount,
    prctl,
    setns,
    unshare,
)

UID_BASE = 100000  # worker uid = UID_BASE + its pid (pids are unique among live processes)

_plan: dict | None = None
_cgroup_base = cgroup.find_base  # (the name the tests know)


def prepare() -> dict:
    """What a worker keeps and hides (``rootfs.view_plan``) and the base of the workers'
    memory cgroups (``cgroup.find_base``).  Call once, in the zygote, before forking."""
    global _plan
    _plan = {**rootfs.view_plan(), "cgroup": cgroup.find_base()}
    return _plan


def remove_cgroup(pid: int) -> bool:
    """Remove a finished worker's cgroup (the zygote, once it has reaped it);
    False while processes of the worker are still being torn down."""
    return cgroup.remove((_plan or {}).get("cgroup"), pid)


# ---------------------------------------------------------------------------
# in the zygote: a worker forked straight into a PID namespace of its own

_own_pidns = None


def fork_worker(lim: dict) -> int:
    """``os.fork()``; as root, with isolation on, the child is the first process of
    a fresh PID namespace (unshare, fork, and back to the zygote's own namespace
    for the next one).  Without root the worker does it itself (``isolate``)."""
    global _own_pidns
    if not (lim.get("isolate") and sys.platform.startswith("linux") and os.geteuid() == 0 and not lim.get("userns")):
        return os.fork()
    try:
        if _own_pidns is None:
            _own_pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
        unshare(CLONE_NEWPID)
    except OSError:
        return os.fork()
    try:
        return os.fork()
    finally:
        if os.getpid() != 1:  # the zygote: its next child goes back to its own namespace
            setns(_own_pidns, CLONE_NEWPID)


# ---------------------------------------------------------------------------
# in the worker


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def isolate(lim: dict) -> dict:
    """Isolate the calling (single-threaded, freshly forked) worker; see the module doc.
    Without root this returns in a new process (the first of the new PID namespace);
    the calling one stays behind, waits for it and ends as it ends."""
    result = {"mode": "none", "net": False, "pid": False, "mounts": False, "uid": os.getuid()}
    if not lim.get("isolate") or not sys.platform.startswith("linux"):
        return result
    plan = _plan or prepare()
    workdir = os.path.realpath(lim["workdir"])
    root = os.geteuid() == 0 and not lim.get("userns")  # userns: the non-root path, forced (tests)
    me = host_pid()
    uid, gid = os.getuid(), os.getgid()
    files = rootfs.read_files(workdir)
    memory = cgroup.join(plan.get("cgroup"), lim, me)
    if memory:
        result["memory_cgroup"] = memory
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    try:
        unshare(flags if root else flags | CLONE_NEWUSER | CLONE_NEWPID)
    except OSError as e:
        result["reason"] = str(e)
        return result
    if not root:
        _map_ids(uid, gid)
    result.update(mode="namespaces" if root else "user-namespace", net=True)
    new_uid = UID_BASE + me if root else uid
    new_gid = new_uid if root else gid
    if not root:
        _enter_pid_namespace()  # from here on: the new namespace's first process
    result["pid"] = os.getpid() == 1
    if result["pid"] and root:
        result["init"] = me
    _mount_root(result, plan, lim, workdir, files, new_uid, new_gid, root)
    os.chdir(workdir)
    if root and result["mounts"]:
        os.setgroups([])
        os.setresgid(new_gid, new_gid, new_gid)
        os.setresuid(new_uid, new_uid, new_uid)
    try:
        prctl(PR_SET_DUMPABLE, 1)
    except OSError:
        pass
    _forbid_nested_user_namespaces(result, root, new_uid, new_gid)
    if not root or result["mounts"]:
        try:
            drop_capabilities()
        except OSError as e:
            result["reason"] = f"capabilities: {e}"
    result["uid"] = os.getuid()
    for option, arg in ((PR_SET_NO_NEW_PRIVS, 1), (PR_SET_PDEATHSIG, signal.SIGKILL)):
        try:
            prctl(option, arg)
        except OSError:
            pass
    return result


def _map_ids(uid: int, gid: int) -> None:
    """This (new) user namespace's only ids: ``uid`` and ``gid`` as themselves, no setgroups."""
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        _write(f"/proc/self/{name}", text)


def _mount_root(result: dict, plan: dict, lim: dict, workdir: str, files: dict, uid: int, gid: int, root: bool) -> None:
    """The worker's file-system view (``rootfs.build_root``); ``result`` says whether it was made."""
    try:
        note = rootfs.build_root(plan, lim, workdir, files, uid, gid, root, result["pid"])
        result["mounts"] = True
        if note:
            result["reason"] = note
    except OSError as e:
        # Half-done mounts are undone; without its private folder the worker could not
        # read its own file as another uid: it stays as an unisolated worker is.
        result.update(mode="partial", reason=f"mounts: {e}")


def _forbid_nested_user_namespaces(result: dict, root: bool, uid: int, gid: int) -> None:
    """No user namespace below the worker's own (``result["nested_userns"]``: whether one remains possible)."""
    own_userns = not root
    if root and result["mounts"]:
        # a user namespace of its own, only to forbid any further one below it
        try:
            unshare(CLONE_NEWUSER)
            _map_ids(uid, gid)
            own_userns = True
        except OSError as e:
            result["reason"] = f"user namespace: {e}"
    result["nested_userns"] = True
    if own_userns:  # (the limit is per user namespace: never the machine's own)
        try:
            _write("/proc/sys/user/max_user_namespaces", "0")
            result["nested_userns"] = False
        except OSError:
            pass


def _enter_pid_namespace() -> None:
    """Fork the first process of the PID namespace just unshared and return in it;
    this process waits for it and ends the same way (exit status or signal)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.set_blocking(r, False)
        try:
            if os.read(r, 1) == b"":  # the parent is already gone
                os._exit(1)
        except BlockingIOError:
            pass
        os.set_inheritable(r, False)  # held until exec or exit: the parent's end sees nothing
        return
    os.close(r)
    try:  # keep only the output file and the pipe (the grader's sockets belong to the child)
        os.closerange(3, w)
        os.closerange(w + 1, 65536)
    except OSError:
        pass
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            os._exit(1)
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        try:
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), signum)
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(os.WEXITSTATUS(status))
