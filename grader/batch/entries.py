"""The entries of SUBMISSIONS: one per student, read into memory (only the exercise files)."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from grader.submission.reader import BadEntry, read as read_submission  # one reader for every entry point



@dataclasses.dataclass
class Entry:
    student: str
    entry: str
    files: dict = dataclasses.field(default_factory=dict)   # exercise file name -> bytes
    error: str = ""
    notes: list = dataclasses.field(default_factory=list)  # what reading it did (a notebook's magics removed)
    origins: dict = dataclasses.field(default_factory=dict)  # a notebook's exercises: their cells (grader.submission.cells)
    near: dict = dataclasses.field(default_factory=dict)  # exercise file -> a near-miss file found instead
    refused: dict = dataclasses.field(default_factory=dict)  # exercise file -> why (a notebook without its cell)
    seed: int = 0
    key: str = ""


def scan(submissions: Path, exercises) -> list:
    """Every entry of SUBMISSIONS as an ``Entry`` (with ``error`` set for bad ones),
    sorted by student id."""
    entries = []
    for raw in sorted(os.listdir(os.fsencode(submissions))):
        if raw.startswith(b".") or raw == b"__MACOSX":
            continue
        path = Path(os.fsdecode(os.path.join(os.fsencode(submissions), raw)))
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            shown = raw.decode("utf-8", "backslashreplace")
            entries.append(Entry(shown, shown, error="the entry's name is not valid UTF-8; rename it to the student id"))
            continue
        kind = "folder" if path.is_dir() else path.suffix.lower() if path.is_file() else "other"
        student = name if kind == "folder" else name[: -len(path.suffix)] if kind in (".zip", ".py", ".ipynb") else name
        e = Entry(student, name + ("/" if kind == "folder" else ""))
        if any(ord(c) < 32 or c == "\x7f" for c in name):
            e.error = "the entry's name holds control characters; rename it to the student id"
        elif len(name.encode()) > 200:
            e.error = "the entry's name is too long for a student id"
        elif not student:
            e.error = "the entry has no name before its extension"
        else:
            try:
                sub = read_submission(path, exercises)
                e.files, e.notes, e.origins, e.near = sub.files, sub.notes, sub.origins, sub.near
                e.refused = sub.refused
            except BadEntry as err:
                e.error = str(err)
            except OSError as err:
                e.error = f"cannot be read ({err.strerror or err})"
        entries.append(e)
    by_id: dict = {}
    for e in entries:
        by_id.setdefault(e.student, []).append(e)
    out = []
    for student in sorted(by_id):
        group = by_id[student]
        if len(group) > 1:
            names = ", ".join(sorted(g.entry for g in group))
            out.append(Entry(student, names, error=f"{len(group)} entries have this student id ({names}); keep one"))
        else:
            out.append(group[0])
    return out
