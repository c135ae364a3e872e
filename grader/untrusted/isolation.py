"""Namespaces, an allowlisted file-system view and an unprivileged uid for one worker.

``isolate(limits)`` runs in a freshly forked worker (``grader.untrusted.worker._apply_limits``),
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
"""
from __future__ import annotations

import ctypes
import os
import signal
import stat
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
_MOUNT_FLAGS = {"nosuid": MS_NOSUID, "nodev": MS_NODEV, "noexec": MS_NOEXEC, "noatime": MS_NOATIME,
                "nodiratime": MS_NODIRATIME, "relatime": MS_RELATIME}

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217, "riscv64": 41}
UID_BASE = 100000  # worker uid = UID_BASE + its pid (pids are unique among live processes)
WORKDIR_BYTES = 64 << 20

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_libc = None
_plan: dict | None = None


def _c():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    return _libc


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _b(s):
    return None if s is None else os.fsencode(s)


def unshare(flags: int) -> None:
    _check(_c().unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(_c().setns(fd, nstype), "setns")


def umount(target: str, flags: int = 0) -> None:
    _check(_c().umount2(_b(target), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    import platform

    nr = SYS_PIVOT_ROOT.get(platform.machine())
    if nr is None:
        raise OSError(38, "pivot_root: unknown system call number on this machine")
    _check(_c().syscall(nr, _b(new_root), _b(put_old)), "pivot_root")


def mount(source, target, fstype, flags: int, data=None) -> None:
    _check(_c().mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {target}")


def prctl(option: int, arg: int) -> None:
    _check(_c().prctl(option, ctypes.c_ulong(arg), 0, 0, 0), f"prctl {option}")


def _drop_capabilities() -> None:
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    _check(_c().capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()), "capset")


# ---------------------------------------------------------------------------
# what to keep and what to hide (computed once, in the zygote)

def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _real(p: str) -> str:
    return os.path.realpath(p)


def is_checkout(root: str = PACKAGE_ROOT) -> bool:
    """True when ``grader`` runs from a source checkout (editable install or the
    repository itself), False when it was installed into a ``site-packages``."""
    return os.path.basename(root) not in ("site-packages", "dist-packages") and \
        os.path.isfile(os.path.join(root, "pyproject.toml"))


def course_paths() -> list:
    """The course's private trees: ``grader`` (with the hidden suites), ``reference``
    and, in a checkout, the checkout itself with its ``solutions``.  In a regular
    install these are folders inside site-packages: never site-packages itself."""
    paths = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]  # the grader package
    if is_checkout():
        paths += [PACKAGE_ROOT, os.path.join(PACKAGE_ROOT, "solutions"), os.path.join(PACKAGE_ROOT, "reference")]
    try:
        import importlib.util

        spec = importlib.util.find_spec("reference")
        if spec is not None and spec.origin and os.path.basename(spec.origin) == "__init__.py":
            paths.append(os.path.dirname(spec.origin))
    except (ImportError, ValueError):
        pass
    return paths


# what the C library and the dynamic loader read from /etc (all public)
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd", "group", "nsswitch.conf",
             "host.conf", "hosts", "os-release", "mime.types", "gai.conf")
DEVICES = ("null", "zero", "full", "random", "urandom")
SYSTEM_LIBS = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32")


def prepare() -> dict:
    """What a worker keeps (Python, its packages, loaded and system libraries) and
    which private trees inside those must be covered.  Call once, before forking."""
    global _plan
    keep = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, *SYSTEM_LIBS}
    cwd = os.getcwd()
    keep.update(p for p in sys.path if p and os.path.isabs(p) and p != cwd)  # not the zygote's own folder
    keep.add(os.path.dirname(sys.executable))
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6 and parts[5].startswith("/"):
                    keep.add(os.path.dirname(parts[5].strip()))
    except OSError:
        pass
    private = sorted({_real(p) for p in course_paths()})
    links = {}  # an allowed path that is (or passes through) a symbolic link: the link too
    real = set()
    for p in keep:
        if not os.path.isdir(p):
            continue
        r = _real(p)
        real.add(r)
        cur = ""
        for name in os.path.abspath(p).strip("/").split("/"):
            cur += "/" + name
            if os.path.islink(cur):
                links[cur] = os.readlink(cur)
    # never a private tree or a folder inside one; a checkout itself is not kept either,
    # but a folder inside it may be (a .venv holding the Python installation)
    checkout = _real(PACKAGE_ROOT) if is_checkout() else None
    real = {p for p in real if p != "/" and p != checkout
            and not any(_under(p, c) for c in private if c != checkout)}
    minimal = sorted(p for p in real if not any(q != p and _under(p, q) for q in real))
    files = [f"/etc/{n}" for n in ETC_FILES if os.path.exists(f"/etc/{n}")]
    devices = [f"/dev/{n}" for n in DEVICES if os.path.exists(f"/dev/{n}")]
    gpu = os.path.exists("/dev/nvidiactl")
    if gpu:  # the driver's nodes, what it reads from /sys, and its libraries (loaded only when
        # CUDA starts, so not in the maps above: where the loader finds them)
        devices += sorted(f"/dev/{n}" for n in os.listdir("/dev") if n.startswith("nvidia"))
        minimal.append("/sys")
        for d in _driver_library_dirs():
            r = _real(d)
            if (os.path.isdir(r) and not any(_under(r, q) for q in minimal)
                    and not any(_under(r, c) for c in private)):
                minimal.append(r)
    _plan = {"keep": minimal, "links": links, "files": files, "devices": devices, "private": private,
             "cgroup": _cgroup_base()}
    return _plan


# ---------------------------------------------------------------------------
# a memory cgroup per worker, where one can be had

def _driver_library_dirs() -> list:
    """Where the dynamic loader looks for the NVIDIA driver's libraries (libcuda,
    libnvidia-ml): LD_LIBRARY_PATH, /etc/ld.so.conf(.d) and the usual driver folders."""
    dirs = [d for d in os.environ.get("LD_LIBRARY_PATH", "").split(":") if os.path.isabs(d)]
    confs = ["/etc/ld.so.conf"]
    try:
        confs += sorted(os.path.join("/etc/ld.so.conf.d", n) for n in os.listdir("/etc/ld.so.conf.d"))
    except OSError:
        pass
    for conf in confs:
        try:
            with open(conf) as f:
                dirs += [line.strip() for line in f if line.strip().startswith("/")]
        except OSError:
            pass
    return dirs + ["/usr/local/nvidia", "/usr/local/cuda"]


def _cgroup_base() -> str | None:
    """A cgroup v2 folder this process may create children in, with the memory
    controller enabled for them: ``GRADER_CGROUP`` if set, else this process's
    own cgroup where it is the root of its cgroup namespace (a container run as
    root) or already delegates memory to its children."""
    mnt = None
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                if right.split()[:1] == ["cgroup2"]:
                    mnt = left.split()[4]
                    break
        with open("/proc/self/cgroup") as f:
            own = next((line.strip()[3:] for line in f if line.startswith("0::")), None)
    except OSError:
        return None
    base = os.environ.get("GRADER_CGROUP") or (mnt and own is not None and os.path.join(mnt, own.lstrip("/")))
    if not base or not os.path.isdir(base):
        return None
    try:
        with open(os.path.join(base, "cgroup.subtree_control")) as f:
            enabled = f.read().split()
        if "memory" not in enabled:
            with open(os.path.join(base, "cgroup.controllers")) as f:
                if "memory" not in f.read().split():
                    return None
            with open(os.path.join(base, "cgroup.subtree_control"), "w") as f:
                f.write("+memory")  # refused where processes live in base (unless it is the root)
        probe = os.path.join(base, f"nngrade-probe-{os.getpid()}")
        os.mkdir(probe)
        try:
            ok = os.path.exists(os.path.join(probe, "memory.max"))
        finally:
            os.rmdir(probe)
        return base if ok else None
    except OSError:
        return None


def cgroup_path(pid: int) -> str | None:
    base = (_plan or {}).get("cgroup")
    return os.path.join(base, f"nngrade-{pid}") if base else None


def _join_cgroup(lim: dict, pid: int) -> int | None:
    """Move this worker into a memory cgroup of its own; returns its limit in bytes."""
    path = cgroup_path(pid)
    if path is None:
        return None
    limit = int(lim.get("memory_bytes") or (2 << 30)) + int(lim.get("disk_bytes") or WORKDIR_BYTES) + (256 << 20)
    try:
        os.makedirs(path, exist_ok=True)
        for name, value in (("memory.max", str(limit)), ("memory.swap.max", "0"), ("memory.oom.group", "1")):
            try:
                with open(os.path.join(path, name), "w") as f:
                    f.write(value)
            except OSError:
                if name == "memory.max":
                    raise
        with open(os.path.join(path, "cgroup.procs"), "w") as f:
            f.write("0")
        return limit
    except OSError:
        return None


def remove_cgroup(pid: int) -> bool:
    """Remove a finished worker's cgroup (the zygote, once it has reaped it);
    False while processes of the worker are still being torn down."""
    path = cgroup_path(pid)
    if path is None:
        return True
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


# ---------------------------------------------------------------------------
# in the zygote: a worker forked straight into a PID namespace of its own

_own_pidns = None


def fork_worker(lim: dict) -> int:
    """``os.fork()``; as root, with isolation on, the child is the first process of
    a fresh PID namespace (unshare, fork, and back to the zygote's own namespace
    for the next one).  Without root the worker does it itself (``isolate``)."""
    global _own_pidns
    if not (lim.get("isolate") and sys.platform.startswith("linux") and os.geteuid() == 0
            and not lim.get("userns")):
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

def _mountinfo() -> list:
    """(mount point, per-mount flags) of every mount, outermost first."""
    out = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                point = fields[4].encode().decode("unicode_escape")
                flags = 0
                for opt in fields[5].split(","):
                    flags |= _MOUNT_FLAGS.get(opt, 0)
                out.append((point, flags))
    except OSError:
        pass
    return out


def host_pid() -> int:
    """This process's pid as the grader sees it (inside a fresh PID namespace
    ``os.getpid()`` is 1; the /proc still mounted is the grader's)."""
    try:
        return int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        return os.getpid()


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
    workdir = _real(lim["workdir"])
    root = os.geteuid() == 0 and not lim.get("userns")  # userns: the non-root path, forced (tests)
    me = host_pid()
    uid, gid = os.getuid(), os.getgid()
    files = _read_files(workdir)
    memory = _join_cgroup(lim, me)
    if memory:
        result["memory_cgroup"] = memory
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    try:
        unshare(flags if root else flags | CLONE_NEWUSER | CLONE_NEWPID)
    except OSError as e:
        result["reason"] = str(e)
        return result
    if not root:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            _write(f"/proc/self/{name}", text)
    result.update(mode="namespaces" if root else "user-namespace", net=True)
    new_uid = UID_BASE + me if root else uid
    new_gid = new_uid if root else gid
    if not root:
        _enter_pid_namespace()  # from here on: the new namespace's first process
    result["pid"] = os.getpid() == 1
    if result["pid"] and root:
        result["init"] = me
    try:
        note = _build_root(plan, lim, workdir, files, new_uid, new_gid, root, result["pid"])
        result["mounts"] = True
        if note:
            result["reason"] = note
    except OSError as e:
        # Half-done mounts are undone; without its private folder the worker could not
        # read its own file as another uid: it stays as an unisolated worker is.
        result.update(mode="partial", reason=f"mounts: {e}")
    os.chdir(workdir)
    if root and result["mounts"]:
        os.setgroups([])
        os.setresgid(new_gid, new_gid, new_gid)
        os.setresuid(new_uid, new_uid, new_uid)
    try:
        prctl(PR_SET_DUMPABLE, 1)
    except OSError:
        pass
    own_userns = not root
    if root and result["mounts"]:
        # a user namespace of its own, only to forbid any further one below it
        try:
            unshare(CLONE_NEWUSER)
            for name, text in (("setgroups", "deny"), ("uid_map", f"{new_uid} {new_uid} 1"),
                               ("gid_map", f"{new_gid} {new_gid} 1")):
                _write(f"/proc/self/{name}", text)
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
    if not root or result["mounts"]:
        try:
            _drop_capabilities()
        except OSError as e:
            result["reason"] = f"capabilities: {e}"
    result["uid"] = os.getuid()
    for option, arg in ((PR_SET_NO_NEW_PRIVS, 1), (PR_SET_PDEATHSIG, signal.SIGKILL)):
        try:
            prctl(option, arg)
        except OSError:
            pass
    return result


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
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), sig)
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(os.WEXITSTATUS(status))


def _flags_of(path: str, mounts: list) -> int:
    """The per-mount flags of the mount that holds ``path`` (kept on a bind: a
    user namespace may not clear flags its mounts were given from outside)."""
    best, flags = "", 0
    for point, mflags in mounts:
        if _under(path, point) and len(point) >= len(best):
            best, flags = point, mflags
    return flags


def _bind(src: str, dst: str, mounts: list, writable: bool = False) -> None:
    mount(src, dst, None, MS_BIND | MS_REC)
    ro = 0 if writable else MS_RDONLY
    for point, _ in mounts:  # the bind and every mount below it become read-only
        if _under(point, src):
            target = dst + point[len(src):] if point != src else dst
            try:
                mount(None, target, None, MS_REMOUNT | MS_BIND | ro | MS_NOSUID | _flags_of(point, mounts))
            except OSError:
                if point == src:
                    raise
    if not any(point == src for point, _ in mounts):
        mount(None, dst, None, MS_REMOUNT | MS_BIND | ro | MS_NOSUID | _flags_of(src, mounts))


def _mkpoint(path: str, is_dir: bool) -> None:
    if os.path.lexists(path):
        return
    os.makedirs(path if is_dir else os.path.dirname(path), mode=0o755, exist_ok=True)
    if not is_dir:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))


def _build_root(plan: dict, lim: dict, workdir: str, files: dict, uid: int, gid: int, root: bool,
                in_pidns: bool) -> str | None:
    """The worker's whole file-system view, from an allowlist, made its root; returns
    a note on what could not be done (a private /proc)."""
    note = None
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mounts = _mountinfo()
    hide = {_real(p) for p in lim.get("hide", ())}
    private = set(plan["private"]) | hide
    keep = [p for p in plan["keep"] if not _under(workdir, p) and not any(_under(p, h) for h in hide)]
    new = workdir  # an empty tmpfs over the worker's own folder becomes the new root
    mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=755")
    try:
        for path in sorted(keep, key=lambda p: (p.count("/"), p)):
            if os.path.lexists(new + path) and not os.path.isdir(new + path):
                continue
            _mkpoint(new + path, True)
            _bind(path, new + path, mounts)
        for link, target in sorted(plan["links"].items(), key=lambda kv: kv[0].count("/")):
            if not os.path.lexists(new + link):
                os.makedirs(os.path.dirname(new + link), mode=0o755, exist_ok=True)
                os.symlink(target, new + link)
        for path in plan["files"]:
            if os.path.lexists(new + path) or not os.path.exists(path):
                continue
            _mkpoint(new + path, os.path.isdir(path))
            _bind(path, new + path, mounts)
        for path in plan["devices"]:  # device nodes keep their mount's flags (no nodev)
            try:
                _mkpoint(new + path, os.path.isdir(path))
                mount(path, new + path, None, MS_BIND | MS_REC)
            except OSError:
                if path in ("/dev/null", "/dev/zero", "/dev/urandom"):
                    raise
        for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
            if not os.path.lexists(f"{new}/dev/{name}"):
                os.makedirs(f"{new}/dev", mode=0o755, exist_ok=True)
                os.symlink(target, f"{new}/dev/{name}")
        for path in ("/proc", "/tmp", "/dev/shm"):
            _mkpoint(new + path, True)
        for path in sorted(private, key=lambda p: (p.count("/"), p)):  # private trees inside kept folders
            if any(_under(path, k) for k in keep) and os.path.isdir(new + path):
                mount("tmpfs", new + path, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,nr_inodes=4,mode=755")
        # the worker's own, writable folder, with a copy of what the grader put there
        _mkpoint(new + workdir, True)
        size = int(lim.get("disk_bytes") or WORKDIR_BYTES)
        mount("tmpfs", new + workdir, "tmpfs", MS_NOSUID | MS_NODEV,
              f"size={size},nr_inodes=4096,mode=700,uid={uid},gid={gid}")
        for name, (data, mode) in files.items():
            fd = os.open(os.path.join(new + workdir, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode or 0o644)
            try:
                os.write(fd, data)
                if root:
                    os.fchown(fd, uid, gid)
            finally:
                os.close(fd)
        try:  # a /proc that shows only the worker's own processes (before the old one goes:
            # a user namespace may mount a proc only while another is fully visible)
            mount("proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None if in_pidns else "hidepid=2")
        except OSError as e:
            note = f"proc: {e}"
        os.chdir(new)
        try:
            pivot_root(".", ".")
            umount(".", MNT_DETACH)  # the old root, stacked on top of the new one
        except OSError:
            os.chroot(".")
        os.chdir("/")
        mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        return note
    except BaseException:
        try:
            os.chdir("/")
            umount(new, MNT_DETACH)
        except OSError:
            pass
        raise


def _read_files(workdir: str) -> dict:
    """The files the grader put in the worker's folder (the student's file),
    to be copied into the private tmpfs that replaces it."""
    files = {}
    dfd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for entry in os.scandir(dfd):
            if entry.name != "output.txt" and entry.is_file(follow_symlinks=False):
                fd = os.open(entry.name, os.O_RDONLY, dir_fd=dfd)
                try:
                    files[entry.name] = (os.read(fd, 16 << 20), entry.stat(follow_symlinks=False).st_mode & 0o777)
                finally:
                    os.close(fd)
    finally:
        os.close(dfd)
    return files
