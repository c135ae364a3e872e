"""A memory cgroup per worker, where the machine delegates one (cgroup v2).

``find_base`` runs once in the zygote (``grader.untrusted.isolation.prepare``);
a worker ``join``s a cgroup of its own under that base, which bounds the memory
of the worker and of everything it starts (files in its tmpfs included); the
zygote ``remove``s it once it has reaped the worker.
"""

from __future__ import annotations

import os

from grader import settings
from grader.untrusted.rootfs import WORKDIR_BYTES


def find_base() -> str | None:
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
    base = settings.CGROUP.value() or (mnt and own is not None and os.path.join(mnt, own.lstrip("/")))
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


def path_of(base: str | None, pid: int) -> str | None:
    """The cgroup of worker ``pid`` under ``base`` (None: no cgroup)."""
    return os.path.join(base, f"nngrade-{pid}") if base else None


def join(base: str | None, lim: dict, pid: int) -> int | None:
    """Move this worker into a memory cgroup of its own; returns its limit in bytes."""
    path = path_of(base, pid)
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


def remove(base: str | None, pid: int) -> bool:
    """Remove a finished worker's cgroup (the zygote, once it has reaped it);
    False while processes of the worker are still being torn down."""
    path = path_of(base, pid)
    if path is None:
        return True
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True
