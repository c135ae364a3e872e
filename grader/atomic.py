"""Results written atomically: a reader sees the old file or the new one, never half of it, and
nothing is replaced that the grader did not create.  Every result file of the grader (reports,
the batch's state and tables, the autograder bundle) is written here.  Standard library only: a
leaf every side of the grader may import cheaply."""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def write_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` so that readers see the old file or the new one, never half.

    Only a regular file (or a new name) is replaced, and with the permissions a new file would
    get (``0666`` less the umask; an existing file keeps its mode).  A symbolic link is followed:
    its target is replaced and the link stays.  Anything else that already exists there (a
    character device such as ``/dev/null``, a FIFO, ``/dev/stdout``, a terminal) is written
    through, never replaced.
    """
    with replacing(path) as target:
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)


@contextmanager
def replacing(path: str | os.PathLike[str]) -> Iterator[Path]:
    """The name to write ``path``'s new content to, under ``write_atomic``'s rules: a fresh file
    beside it that replaces it once the block ends without an exception (and is removed if it
    raises), or ``path`` itself where it is to be written through (a device, a FIFO)."""
    path = Path(path)
    try:
        st: os.stat_result | None = os.stat(path)  # follows links
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode) or _under_dev(path):
        yield path
        return
    path = Path(os.path.realpath(path))  # a link's target (or a dangling link's) is what gets replaced
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            yield Path(tmp)
            os.fchmod(fd, mode)  # once written: a mode without the owner's write permission is kept too
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _under_dev(path: Path) -> bool:
    """/dev/stdout, /dev/fd/1, /proc/self/fd/1: names of an open stream, even when it is a file."""
    parts = Path(os.path.abspath(path)).parts
    return len(parts) > 1 and parts[1] in ("dev", "proc")


def _umask() -> int:
    """The process's umask, read without changing it (Linux), else set and restored."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
