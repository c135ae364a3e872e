"""What the student's code prints, in the worker: kept within a cap, never an error.

A worker's standard output and error go to ``output.txt`` in its folder (``limits.apply_limits``),
which the file-size limit (``Limits.output_bytes``) bounds.  Printing past that limit used to
raise ``OSError: [Errno 27] File too large`` inside the student's code, a failed test for a debug
``print``.  Here ``sys.stdout`` and ``sys.stderr`` write through a ``Sink`` instead: the first
``HEAD`` bytes go to the file as they come, then only the last ``TAIL`` bytes are kept (in
memory, written after the head behind a line that says how much was cut, after each request:
``flush``).  A write never fails; the grader reads the cut from the file (``cut_bytes``) and
says so in the report.
"""

from __future__ import annotations

import io
import os
import re
import sys
import time

HEAD = 1 << 20  # bytes written as they come (well under Limits.output_bytes)
TAIL = 64 << 10  # the last bytes kept after the cut
MARK = "\n[... {cut} bytes of output cut here: the first {head} and the last {tail} bytes are kept ...]\n"
_MARK_RE = re.compile(rb"\n\[\.\.\. (\d+) bytes of output cut here")


class Sink(io.RawIOBase):
    """The raw stream under the worker's sys.stdout and sys.stderr (one file, both)."""

    def __init__(self, fd: int, head: int = HEAD, tail: int = TAIL):
        self.fd, self.head, self.tail_size = fd, head, tail
        self.written = 0  # bytes of the head written
        self.cut = 0  # bytes past the head (the kept tail among them)
        self.tail = bytearray()
        self.dirty = False
        self.flushed = 0.0  # when the tail was last written (a request stopped half-way leaves it too)

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        data = bytes(b)
        room = self.head - self.written
        if room > 0:
            chunk = data[:room]
            try:
                view = memoryview(chunk)
                while view:
                    n = os.write(self.fd, view)
                    view = view[n:]
                    self.written += n
            except OSError:  # the file limit, a full disk: what did not fit is cut
                self.written = self.head
                self.cut += len(view)
            data = data[room:]
        if data:
            self.cut += len(data)
            self.tail += data
            del self.tail[: -self.tail_size]
            self.dirty = True
            if time.monotonic() - self.flushed > 0.5:
                self.flush_tail()
        return len(b)

    def flush_tail(self) -> None:
        """Write the cut's line and the kept tail after the head (replacing the last ones)."""
        if not self.dirty:
            return
        self.dirty = False
        self.flushed = time.monotonic()
        kept = MARK.format(cut=self.cut, head=self.head, tail=len(self.tail)).encode() + bytes(self.tail)
        try:
            os.pwrite(self.fd, kept, self.written)
            os.ftruncate(self.fd, self.written + len(kept))
        except OSError:
            pass


_SINK: Sink | None = None


def capture(limit: int, fd: int = 1) -> None:
    """sys.stdout and sys.stderr through one capped Sink on ``fd`` (the worker's output file,
    ``limit`` bytes at most: the head, the cut's line and the tail fit in it)."""
    global _SINK
    _SINK = Sink(fd, head=max(1024, min(HEAD, limit - TAIL - 1024)))
    buffered = io.BufferedWriter(_SINK, buffer_size=8192)
    stream = io.TextIOWrapper(buffered, encoding="utf-8", errors="backslashreplace", line_buffering=True)
    sys.stdout = sys.stderr = stream


def flush() -> None:
    """After each request: what was printed reaches the file, the kept tail too."""
    if _SINK is None:
        return
    for stream in (sys.stdout, sys.stderr, sys.__stdout__):
        try:
            stream.flush()
        except Exception:  # a stream the student's code replaced or closed
            pass
    _SINK.flush_tail()


def cut_bytes(path) -> int:
    """How many bytes of output were cut, read back from a worker's output file (0: none)."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - TAIL - 1024))
            m = _MARK_RE.search(f.read())
    except OSError:
        return 0
    return int(m.group(1)) if m else 0
