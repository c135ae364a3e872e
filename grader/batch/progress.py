"""The batch's progress: a bar with counts and ETA on a terminal, a line per student in a log (CI)."""

from __future__ import annotations

import os
import shutil
import sys
import time

from grader import settings
from grader.batch.output import status_text
from grader.feedback.numbers import points_text
from grader.feedback.records import GradeRow, RowStatus


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
        self.tty = self.stream.isatty() and not settings.CI.value() and os.environ.get("TERM") != "dumb"
        self.last_draw = 0.0
        self.current: dict = {}  # the students being graded now -> since when
        self.processes = 0  # grading processes started
        self.ready = 0  # ... that have imported torch, the reference and the suites

    def _say(self, text: str) -> None:
        from grader.feedback.textsafe import terminal

        if self.tty:
            self.stream.write("\r\033[K")
        print(terminal(text), file=self.stream, flush=True)
        self.last_draw = 0.0

    def starting(self, n: int) -> None:
        """The grading processes are being started (each imports torch, the reference and the suites)."""
        self.processes = n
        self._say(
            f"grade batch: starting {n} grading process{'es' if n != 1 else ''} (each imports torch, "
            "pytest, the reference and the hidden tests; on a busy machine this takes a while) …"
        )

    def event(self, what: str, value) -> None:
        """What the pool reports: "ready" (a grading process), "start" (a student), "tick"."""
        if what == "ready":
            self.ready += 1
            if self.ready == 1:
                self._say(
                    f"grade batch: first grading process ready after "
                    f"{fmt_duration(time.monotonic() - self.start)}; grading"
                )
        elif what == "start":
            self.current[value] = time.monotonic()
        if self.tty:
            self._draw(force=what != "tick")

    def _draw(self, force: bool = False) -> None:
        from grader.feedback.textsafe import terminal

        now = time.monotonic()
        if not force and now - self.last_draw < 1.0:
            return
        self.last_draw = now
        elapsed = now - self.start
        width = 30
        fill = int(width * self.done / self.total) if self.total else width
        bar = "█" * fill + "░" * (width - fill)
        if self.done:
            rate = self.done / elapsed if elapsed > 0 else 0.0
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            line = (
                f"  {bar} {self.done}/{self.total}  graded {self.graded}  errors {self.errors}"
                f"  {rate:.2f}/s  ETA {fmt_duration(eta)}"
            )
        else:
            line = f"  {bar} {self.done}/{self.total}  {fmt_duration(elapsed)}"
        if self.processes and self.ready < self.processes and not self.current and not self.done:
            line += f"  starting: {self.ready}/{self.processes} grading processes ready"
        if self.current:
            oldest = sorted(self.current.items(), key=lambda kv: kv[1])
            line += "  grading " + ", ".join(f"{s} ({fmt_duration(now - t0)})" for s, t0 in oldest[:3])
            if len(oldest) > 3:
                line += f" +{len(oldest) - 3}"
        cols = shutil.get_terminal_size((100, 20)).columns
        line = terminal(line)
        if len(line) >= cols:
            line = line[: max(10, cols - 2)] + "…"
        self.stream.write("\r\033[K" + line)
        self.stream.flush()

    def update(self, row: GradeRow) -> None:
        self.current.pop(row.student, None)
        self.done += 1
        if row.status == RowStatus.GRADED:
            self.graded += 1
        else:
            self.errors += 1
        if self.tty:
            self._draw(force=True)
        else:
            what = (
                f"{points_text(row.score)} / {row.max_score:g}" if row.status == RowStatus.GRADED else status_text(row)
            )
            took = f" ({row.elapsed:.1f} s)" if row.elapsed is not None else ""
            from grader.feedback.textsafe import terminal  # a student id or reason acts on no terminal or CI log

            print(
                terminal(f"grade batch: [{self.done}/{self.total}] {row.student}: {what}{took}"),
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()
