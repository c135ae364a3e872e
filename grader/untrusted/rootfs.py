"""The worker's file-system view: what it keeps, what it hides, and the root built from it.

``view_plan()`` runs once in the zygote: the folders a worker keeps (the Python
installation, its packages, the loaded and the system libraries, a few files of
``/etc``, a few device nodes) and the course's private trees to cover even inside
those.  ``build_root`` runs in a worker (``grader.untrusted.isolation.isolate``),
in its own mount namespace: a tmpfs with read-only binds of what is kept, an
empty folder over every private tree, a fresh ``/proc`` and a private writable
tmpfs at the worker's folder with a copy of its files (``read_files``), made the
root with ``pivot_root``.
"""

from __future__ import annotations

import os
import sys

from grader.untrusted.syscalls import (
    MNT_DETACH,
    MS_BIND,
    MS_NOATIME,
    MS_NODEV,
    MS_NODIRATIME,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
    mount,
    pivot_root,
    umount,
)

WORKDIR_BYTES = 64 << 20  # the worker's own writable folder (a tmpfs), unless the limits say otherwise
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_MOUNT_FLAGS = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
}


# ---------------------------------------------------------------------------
# what to keep and what to hide (computed once, in the zygote)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _real(p: str) -> str:
    return os.path.realpath(p)


def is_checkout(root: str = PACKAGE_ROOT) -> bool:
    """True when ``grader`` runs from a source checkout (editable install or the
    repository itself), False when it was installed into a ``site-packages``."""
    return os.path.basename(root) not in ("site-packages", "dist-packages") and os.path.isfile(
        os.path.join(root, "pyproject.toml")
    )


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
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "passwd",
    "group",
    "nsswitch.conf",
    "host.conf",
    "hosts",
    "os-release",
    "mime.types",
    "gai.conf",
)
DEVICES = ("null", "zero", "full", "random", "urandom")
SYSTEM_LIBS = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32")


def view_plan() -> dict:
    """What a worker keeps (Python, its packages, loaded and system libraries) and
    which private trees inside those must be covered.  Call once, before forking."""
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
    real = {p for p in real if p != "/" and p != checkout and not any(_under(p, c) for c in private if c != checkout)}
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
            if os.path.isdir(r) and not any(_under(r, q) for q in minimal) and not any(_under(r, c) for c in private):
                minimal.append(r)
    return {"keep": minimal, "links": links, "files": files, "devices": devices, "private": private}


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


# ---------------------------------------------------------------------------
# in the worker: its root


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
            target = dst + point[len(src) :] if point != src else dst
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


def build_root(
    plan: dict, lim: dict, workdir: str, files: dict, uid: int, gid: int, root: bool, in_pidns: bool
) -> str | None:
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
        _bind_allowed(new, plan, keep, mounts)
        _dev_and_mount_points(new)
        for path in sorted(private, key=lambda p: (p.count("/"), p)):  # private trees inside kept folders
            if any(_under(path, k) for k in keep) and os.path.isdir(new + path):
                mount("tmpfs", new + path, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,nr_inodes=4,mode=755")
        _own_folder(new + workdir, lim, files, uid, gid, root)
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


def _bind_allowed(new: str, plan: dict, keep: list, mounts) -> None:
    """The allowlist under ``new``: the kept folders, the links, the single files and the devices."""
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


def _dev_and_mount_points(new: str) -> None:
    """/dev's links to the process's own descriptors; the points /proc, /tmp and /dev/shm mount on."""
    for name, target in (
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        if not os.path.lexists(f"{new}/dev/{name}"):
            os.makedirs(f"{new}/dev", mode=0o755, exist_ok=True)
            os.symlink(target, f"{new}/dev/{name}")
    for path in ("/proc", "/tmp", "/dev/shm"):
        _mkpoint(new + path, True)


def _own_folder(path: str, lim: dict, files: dict, uid: int, gid: int, root: bool) -> None:
    """The worker's own, writable folder, with a copy of what the grader put there."""
    _mkpoint(path, True)
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


def read_files(workdir: str) -> dict:
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
