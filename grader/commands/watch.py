"""`grade exerciseN --watch`: regrade each time the exercise file is saved.

The files are polled (their size, modification time and inode, every 50 ms:
editors that save by writing a new file and renaming it are seen too); each
change redraws the screen with the new report.  The grading itself goes
through the warm server (``grader.commands.server``) or, with ``--no-server``, through a
warm worker kept in this process between saves.  Ctrl-C stops: a grading in
progress is abandoned and nothing is left running.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

POLL = 0.05  # seconds between looks at the files
SETTLE = 0.03  # a change is graded once the file has stayed the same this long

CLEAR = "\033[H\033[2J\033[3J"


def watched_files(chosen, submission: Path) -> list:
    """What a save of changes the verdict: each chosen exercise's file (a notebook too, where the
    submission folder holds one of the same name)."""
    files = []
    for ex in chosen:
        f = submission / ex.file
        files.append(f)
        files.append(f.with_suffix(".ipynb"))
    return files


def _state(files) -> tuple:
    out = []
    for f in files:
        try:
            st = os.stat(f)
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append(None)
    return tuple(out)


def wait_for_change(files, last: tuple) -> tuple:
    while True:
        time.sleep(POLL)
        now = _state(files)
        if now != last:
            while True:  # let the editor finish writing
                time.sleep(SETTLE)
                settled = _state(files)
                if settled == now:
                    return now
                now = settled


def watch(args, chosen, submission: Path, grade_once) -> int:
    """Grade, then regrade after every save, until Ctrl-C; ``grade_once()`` grades and
    prints one report and returns its exit status."""
    from grader.commands.grade_here import close_watch_zygote

    files = watched_files(chosen, submission)
    if args.submission is not None and Path(args.submission).expanduser().is_file():
        files.append(Path(args.submission).expanduser())  # a submission given as one file (a notebook, say)
    files = list(dict.fromkeys(f.resolve() for f in files))
    shown = ", ".join(dict.fromkeys(f.name for f in files if f.suffix == ".py" or f.exists()))
    # the banner goes with a text report on the terminal; a report as data (or in a file) keeps its
    # standard output to itself, and the banner goes to standard error
    screen = sys.stdout if args.output is None and args.format in (None, "text") else sys.stderr
    tty = screen.isatty()
    state = _state(files)
    try:
        while True:
            if tty:
                screen.write(CLEAR)
            screen.write(f"grade --watch · {time.strftime('%H:%M:%S')} · {shown}\n")
            screen.flush()
            code = grade_once()
            if code == 130:  # interrupted while grading
                raise KeyboardInterrupt
            sys.stdout.flush()
            screen.write(f"\nWatching {shown} in {submission}: saving regrades · Ctrl-C to stop\n")
            screen.flush()
            state = wait_for_change(files, state)
    except KeyboardInterrupt:
        screen.write("\n")
        screen.flush()
        return 130
    finally:
        close_watch_zygote()
