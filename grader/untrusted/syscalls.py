"""The system calls that isolation makes, through the C library (ctypes), each raising
``OSError`` when refused; and those a worker, the zygote or a batch's grading process makes
itself (``host_pid``, ``set_pdeathsig``, ``set_child_subreaper``).  Every ``prctl`` of the
grader goes through here (tests/untrusted/test_syscalls.py).  Linux only; nothing is called
at import."""

from __future__ import annotations

import ctypes
import os
import signal

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21

PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "ppc64le": 203, "s390x": 217, "riscv64": 41}

_libc = None


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


def drop_capabilities() -> None:
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    _check(_c().capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()), "capset")


def host_pid() -> int:
    """This process's pid as the grader sees it (inside a fresh PID namespace
    ``os.getpid()`` is 1; the /proc still mounted is the grader's)."""
    try:
        return int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        return os.getpid()


def set_pdeathsig() -> None:
    """Be killed when the parent ends (best effort)."""
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:
        pass


def set_child_subreaper() -> None:
    """Become the reaper of this process's orphaned descendants (a worker's namespace init
    processes, once their worker ends), instead of the system's init.  Raises ``OSError``
    when refused."""
    prctl(PR_SET_CHILD_SUBREAPER, 1)
