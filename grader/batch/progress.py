"""The batch's progress: a bar with counts and ETA on a terminal, a line per student in a log (CI)."""
from __future__ import annotations

import os
import sys
import time

from grader.batch.output import status_text
from grader.feedback.numbers import points_text



def fmt_duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Progress:
    """A bar with counts and ETA on a terminal; plain lines otherwise (CI)."""

    def __init__(self, total: int, stream=None):
        self.stream = stream or sys.stderr
        self.total = total
        self.done = 0
        self.graded = 0
        self.errors = 0
        self.start = time.monotonic()
        self.tty = self.stream.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"
        self.last_draw = 0.0

    def update(self, row: dict) -> None:
        self.done += 1
        if row["status"] == "graded":
            self.graded += 1
        else:
            self.errors += 1
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        if self.tty:
            now = time.monotonic()
            if now - self.last_draw < 0.1 and self.done < self.total:
                return
            self.last_draw = now
            width = 30
            fill = int(width * self.done / self.total) if self.total else width
            bar = "█" * fill + "░" * (width - fill)
            self.stream.write(f"\r\033[K  {bar} {self.done}/{self.total}  graded {self.graded}  errors {self.errors}"
                              f"  {rate:.2f}/s  ETA {fmt_duration(eta)}")
            self.stream.flush()
        else:
            what = (f"{points_text(row['score'])} / {row['max_score']:g}" if row["status"] == "graded"
                    else status_text(row))
            took = f" ({row['elapsed']:.1f} s)" if "elapsed" in row else ""
            from grader.feedback.textsafe import terminal  # a student id or reason acts on no terminal or CI log

            print(terminal(f"grade batch: [{self.done}/{self.total}] {row['student']}: {what}{took}"),
                  file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()
