"""Namespaces, a private file-system view and an unprivileged uid for one worker.

``isolate(limits)`` runs in a freshly forked worker (``grader.worker._apply_limits``),
after its output file is open and before any student code.  On Linux it

* unshares the mount, network, IPC, UTS and PID namespaces (as root; as any
  other user inside a new user namespace), so the worker has no network at
  all (only a loopback that is down) and its mounts are its own;
* starts a tiny *init* for the new PID namespace (``setpriv --pdeathsig KILL cat``
  reading a pipe from the worker, through posix_spawn: 0.2 ms, where forking the
  worker would copy its page tables: 15 ms; a fork if setpriv is missing).  The worker itself stays in
  the grader's PID namespace (so its pid, its exit status and the signals it
  gets are exactly those of an unisolated worker), but every process the
  student starts lands in the new namespace; init ends with the worker
  (parent-death signal, and end of file on that pipe) and the kernel then kills
  everything else in the namespace: no process outlives its worker;
* remounts every existing mount read-only, mounts an empty read-only tmpfs
  over the course (repository root, ``grader``, ``reference``, ``solutions``,
  the hidden suites), the home folder, ``/tmp``, ``/var/tmp``, ``/dev/shm``
  and whatever the caller adds (a batch adds SUBMISSIONS, --out and its own
  work folder), puts back read-only what Python needs (its prefix, the
  site-packages, the folders of loaded libraries) and mounts a small private
  tmpfs at the worker's own folder with a copy of the files the grader put
  there: that folder is the only place the worker can write;
* mounts a fresh ``/proc`` that shows only the worker's own processes
  (root only);
* switches to an unprivileged uid of its own (100000 + its pid, so that
  RLIMIT_NPROC counts only this worker's processes) with no supplementary
  groups (root), or drops the user namespace's capabilities (non-root), and
  sets ``no_new_privs`` (no setuid binary gives privileges back).

Every step that the machine refuses degrades the result instead of failing
(mode "none": limits only; "partial": namespaces but no private file view);
``isolate`` returns what it achieved (a dict), which the worker reports to
the grader (``Worker.isolation``).  ``prepare()`` runs once in the zygote and
computes what the workers need to see, so a worker pays only for a few system
calls (a few milliseconds; see ``bench/batch_throughput.py``).
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
UID_BASE = 100000  # worker uid = UID_BASE + its pid (pids are unique among live processes)
WORKDIR_BYTES = 64 << 20

PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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
# what to hide and what to keep (computed once, in the zygote)

def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _real(p: str) -> str:
    return os.path.realpath(p)


def course_paths() -> list:
    """The course's private trees: repository root, grader, reference, solutions, suites."""
    paths = [PACKAGE_ROOT, os.path.join(PACKAGE_ROOT, "solutions"), os.path.join(PACKAGE_ROOT, "reference"),
             os.path.dirname(os.path.abspath(__file__))]
    if os.path.basename(PACKAGE_ROOT) in ("site-packages", "dist-packages"):
        paths = paths[3:]  # installed (the student edition, say): torch lives beside the grader, not a course tree
    try:
        import importlib.util

        spec = importlib.util.find_spec("reference")
        if spec is not None and spec.origin:
            paths.append(os.path.dirname(spec.origin))
    except (ImportError, ValueError):
        pass
    return paths


def default_hidden() -> list:
    home = os.path.expanduser("~")
    paths = course_paths() + ["/tmp", "/var/tmp", "/dev/shm", "/run/user", "/root"]
    if home and home != "/":
        paths.append(home)
    import tempfile

    paths.append(tempfile.gettempdir())
    return paths


def prepare() -> dict:
    """Paths a worker must still be able to read (Python, its packages, loaded
    libraries) and the default list of hidden ones.  Call once, before forking."""
    global _plan
    keep = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    cwd = os.getcwd()
    keep.update(p for p in sys.path if p and os.path.isabs(p) and p != cwd)  # not the zygote's own folder
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split(None, 5)
                if len(parts) == 6 and parts[5].startswith("/"):
                    keep.add(os.path.dirname(parts[5].strip()))
    except OSError:
        pass
    course = [_real(p) for p in course_paths()]
    keep = {_real(p) for p in keep if os.path.exists(p)}
    keep = {p for p in keep if not any(_under(p, c) for c in course)}
    # the smallest set: drop paths inside other kept paths
    minimal = sorted(p for p in keep if not any(q != p and _under(p, q) for q in keep))
    _plan = {"keep": minimal, "hidden": sorted({_real(p) for p in default_hidden()})}
    return _plan


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


_SETPRIV = next((p for p in ("/usr/bin/setpriv", "/bin/setpriv") if os.access(p, os.X_OK)), None)
_CAT = next((p for p in ("/usr/bin/cat", "/bin/cat") if os.access(p, os.X_OK)), None)
_lifeline = None  # the worker's end of the pipe its init reads


def _start_init(uid: int, gid: int) -> int:
    """Start the PID namespace's init; it ends with the worker, and the kernel then
    kills every other process in the namespace.  Two ties, since either alone has
    a gap: the parent-death signal (a worker killed before the init has set it
    would leave the init behind) and a pipe whose end of file the init waits for
    (a student's child holding the worker's end would keep it open).  The init
    runs as the uid the worker will have: the kernel sends the parent-death
    signal with the dying worker's credentials, and an unprivileged worker may
    not signal a root init."""
    global _lifeline
    as_user = ["--reuid", str(uid), "--regid", str(gid), "--clear-groups"] if os.geteuid() == 0 and uid else []
    if _SETPRIV and _CAT:
        # posix_spawn (vfork + exec) costs ~0.2 ms; forking this process ~15 ms.
        r, w = os.pipe()
        try:
            pid = os.posix_spawn(_SETPRIV, ["setpriv", *as_user, "--pdeathsig", "KILL", "--", _CAT], {},
                                 file_actions=[(os.POSIX_SPAWN_DUP2, r, 0),
                                               (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                                               (os.POSIX_SPAWN_DUP2, 1, 2)])
        finally:
            os.close(r)
        _lifeline = w
        return pid
    r, w = os.pipe()
    pid = os.fork()
    if pid != 0:
        os.close(r)
        _lifeline = w
        return pid
    try:  # the init, forked (no setpriv or cat here): reap orphans until the worker is gone
        import select

        if as_user:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        os.close(w)
        os.closerange(0, r)
        os.closerange(r + 1, 65536)
        while True:
            try:
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                pass
            ready, _, _ = select.select([r], [], [], 0.5)
            if ready and not os.read(r, 1):
                break
    finally:
        os._exit(0)


def _traversable(path: str) -> str | None:
    """The first ancestor of ``path`` that others cannot enter, if any."""
    parts = path.strip("/").split("/")
    cur = ""
    for name in parts[:-1]:
        cur += "/" + name
        try:
            if not os.stat(cur).st_mode & stat.S_IXOTH:
                return cur
        except OSError:
            return None
    return None


def isolate(lim: dict) -> dict:
    """Isolate the calling (single-threaded, freshly forked) worker; see the module doc."""
    result = {"mode": "none", "net": False, "pid": False, "mounts": False, "uid": os.getuid()}
    if not lim.get("isolate") or not sys.platform.startswith("linux"):
        return result
    plan = _plan or prepare()
    workdir = _real(lim["workdir"])
    root = os.geteuid() == 0 and not lim.get("userns")  # userns: the non-root path, forced (tests)
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID
    try:
        unshare(flags if root else flags | CLONE_NEWUSER)
    except OSError as e:
        result["reason"] = str(e)
        return result
    if not root:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    result.update(mode="namespaces" if root else "user-namespace", net=True)
    new_uid = UID_BASE + os.getpid() if root else uid
    new_gid = new_uid if root else gid
    try:
        result["init"] = _start_init(new_uid, new_gid)
        result["pid"] = True
    except OSError as e:
        result["reason"] = f"pid namespace: {e}"
    try:
        _mounts(plan, lim, workdir, new_uid, new_gid, root)
        result["mounts"] = True
    except OSError as e:
        # Half-done mounts only take things away; but without its private folder the
        # worker could not read its own file as another uid: stay as an unisolated worker is.
        result.update(mode="partial", reason=f"mounts: {e}")
    os.chdir(workdir)
    if root and result["mounts"]:
        os.setgroups([])
        os.setresgid(new_gid, new_gid, new_gid)
        os.setresuid(new_uid, new_uid, new_uid)
    elif not root:
        try:
            _drop_capabilities()
        except OSError as e:
            result["reason"] = f"capabilities: {e}"
    result["uid"] = os.getuid()
    for option, arg in ((PR_SET_NO_NEW_PRIVS, 1), (PR_SET_PDEATHSIG, signal.SIGKILL), (PR_SET_DUMPABLE, 1)):
        try:
            prctl(option, arg)
        except OSError:
            pass
    return result


def _mounts(plan: dict, lim: dict, workdir: str, uid: int, gid: int, root: bool) -> None:
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    existing = _mountinfo()
    hidden = set(plan["hidden"]) | {_real(p) for p in lim.get("hide", ())}
    keep = [p for p in plan["keep"] if not _under(workdir, p)]
    for p in keep + [workdir]:
        blocker = _traversable(p)
        if blocker:
            hidden.add(blocker)
    hidden = {h for h in hidden if os.path.isdir(h) and not _under(h, workdir)}
    # what to put back, opened before anything is covered
    fds = {p: os.open(p, os.O_PATH) for p in keep if any(_under(p, h) for h in hidden)}
    files = _read_files(workdir)
    # everything that exists becomes read-only in this namespace
    for point, mflags in existing:
        if _under(point, "/proc"):
            continue
        try:
            mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | mflags)
        except OSError:
            pass
    # outermost first, so that inner mounts land on top of outer ones
    ops = [(h, "hide") for h in hidden] + [(p, "keep") for p in fds] + [(workdir, "work")]
    ops.sort(key=lambda op: (op[0].count("/"), op[0]))
    covered = []
    for path, kind in ops:
        if kind == "hide":
            if os.path.isdir(path):  # else it is already under another hidden folder
                mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,nr_inodes=512,mode=755")
                covered.append(path)
            continue
        is_dir = kind == "work" or os.path.isdir(f"/proc/self/fd/{fds[path]}")
        if not os.path.lexists(path):
            if is_dir:
                os.makedirs(path, mode=0o755, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
        if kind == "keep":
            mount(f"/proc/self/fd/{fds[path]}", path, None, MS_BIND | MS_REC)
            mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
            os.close(fds[path])
            continue
        size = int(lim.get("disk_bytes") or WORKDIR_BYTES)
        mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},nr_inodes=4096,mode=700,uid={uid},gid={gid}")
        for name, (data, mode) in files.items():
            fd = os.open(os.path.join(path, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode or 0o644)
            try:
                os.write(fd, data)
                if root:
                    os.fchown(fd, uid, gid)
            finally:
                os.close(fd)
    for path in covered:
        mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    if root:
        try:  # a /proc that shows only the worker's own processes
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
        except OSError:
            pass


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
