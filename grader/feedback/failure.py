"""When the grading itself failed: the warm grading process (the zygote) was killed, or a
test hit an internal error.  Then nothing of the report is a grade: a test the grader
could not run would count as lost points, and a student's worker that died with the
zygote would look like the student's crash.  ``why`` says what happened, with the
memory limit this process runs under (a killed process is most often the kernel's
out-of-memory killer at work), so that the instructor knows what to raise.

Standard library only (``grade`` imports it after grading, and ``grader.formats``).
"""

from __future__ import annotations

import os
import resource
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grader.feedback.records import Report

_UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as about 2**63 rounded to the page size


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB"


def _cgroup_dirs():
    """(version, folder) of this process's memory cgroup and of each of its ancestors,
    innermost first (the limit in force is the smallest on the way up)."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
        with open("/proc/self/mountinfo") as f:
            mounts = f.read().splitlines()
    except OSError:
        return
    v1_mount = v2_mount = None
    for line in mounts:
        left, _, right = line.partition(" - ")
        fields, extra = left.split(), right.split()
        if len(fields) < 5 or not extra:
            continue
        if extra[0] == "cgroup" and "memory" in (extra[-1].split(",") if len(extra) >= 3 else []):
            v1_mount = v1_mount or (fields[4], fields[3])
        elif extra[0] == "cgroup2":
            v2_mount = v2_mount or (fields[4], fields[3])
    for line in lines:
        hier, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if "memory" in controllers.split(",") and v1_mount:
            version, (mnt, root) = "v1", v1_mount
        elif hier == "0" and not controllers and v2_mount:
            version, (mnt, root) = "v2", v2_mount
        else:
            continue
        rel = os.path.relpath(path, root) if path.startswith(root) and root != "/" else path.lstrip("/")
        rel = "" if rel == "." else rel
        while True:
            yield version, os.path.join(mnt, rel)
            if not rel:
                break
            rel = os.path.dirname(rel)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def memory_limit() -> str:
    """The memory limit this process runs under, in words (the smallest cgroup limit
    on the way up, else RLIMIT_AS / RLIMIT_DATA), or that none was seen."""
    best = None
    for version, folder in _cgroup_dirs():
        name = "memory.limit_in_bytes" if version == "v1" else "memory.max"
        text = (_read(os.path.join(folder, name)) or "").strip()
        if text.isdigit() and int(text) < _UNLIMITED and (best is None or int(text) < best[0]):
            best = (int(text), f"cgroup {version} {name}")
    if best:
        return f"memory limit {_mib(best[0])} ({best[1]})"
    for kind, label in ((resource.RLIMIT_AS, "RLIMIT_AS"), (resource.RLIMIT_DATA, "RLIMIT_DATA")):
        soft, _ = resource.getrlimit(kind)
        if soft != resource.RLIM_INFINITY:
            return f"memory limit {_mib(soft)} ({label})"
    return "no memory limit seen (no cgroup limit, no RLIMIT_AS)"


def oom_kills() -> int | None:
    """How many processes the kernel has killed for memory in this process's cgroup
    (and those under it), where the cgroup says (None: it does not)."""
    total = None
    for version, folder in _cgroup_dirs():
        text = _read(os.path.join(folder, "memory.oom_control" if version == "v1" else "memory.events"))
        for line in (text or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                total = int(value)
        if total is not None:
            return total
    return None


def process_death(returncode: int | None) -> str | None:
    """How a process ended, in words (None: it has not)."""
    if returncode is None:
        return None
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with status {returncode}"


def why(death: str | None = None, internal: list | None = None, oom_before: int | None = None) -> str:
    """The reason a grading failed: the zygote's ``death``, or the ``internal`` errors
    (``exercise: test (message)``), with the memory limit seen and the kernel's
    out-of-memory kills since ``oom_before``."""
    if death:
        text = f"the grading process (the warm worker every test runs through) was {death}"
        if internal:  # the consequence, not a second cause
            text += f", and {len(internal)} test{'s' if len(internal) > 1 else ''} could not be run after that"
    elif internal:
        more = f" (and {len(internal) - 1} more)" if len(internal) > 1 else ""
        text = f"a test could not be run: {internal[0]}{more}"
    else:
        text = "the grading did not finish"
    oom = oom_kills()
    if oom is not None and oom_before is not None and oom > oom_before:
        text += f"; the kernel killed {oom - oom_before} process(es) for lack of memory meanwhile"
    elif death and "SIGKILL" in death:
        text += " (most often the machine's memory limit)"
    return f"{text}; {memory_limit()}"


def internal_errors(report: Report) -> list:
    from grader.errors import ErrorKind

    return [
        f"{ex.name}: {t.name} ({t.message})"
        for ex in report.exercises
        for t in ex.tests
        if t.kind == ErrorKind.INTERNAL
    ]


def grading_failed(report: Report) -> str | None:
    """Why no grade can be given from ``report`` (None: it is a grade)."""
    if report.extra.get("grading_failed"):
        return report.extra["grading_failed"]
    from grader.feedback.records import ExerciseStatus

    internal = internal_errors(report)
    errors = internal or [f"{ex.name} ({ex.message})" for ex in report.exercises if ex.status == ExerciseStatus.ERROR]
    return why(internal=errors) if errors else None


MESSAGE = (
    "The grading failed, so this is not a grade: {reason}. Nothing was scored; "
    "this is not your submission's fault. Please tell your instructor, who can grade it again."
)


def message(reason: str) -> str:
    return MESSAGE.format(reason=reason)
