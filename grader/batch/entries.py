"""The entries of SUBMISSIONS: one per student, read into memory (only the exercise files).

SUBMISSIONS is either a folder of entries named by student id (``alice/``,
``bob.zip``, ``carol.py``, ``dave.ipynb``), or Canvas's "Download Submissions"
as it comes (unzipped): flat files named by Canvas (instructure/canvas-lms
lib/content_zipper.rb, ``get_filename`` and ``add_upload_submission``)::

    <sortable name, lower case, only word characters>[_LATE]_<user id>_<file id>_<file name>

e.g. ``lovelaceada_LATE_101_5001_exercise1_softmax.py``; a text entry or URL is
``<name>[_LATE]_<user id>_text.html`` / ``_link.html``; with anonymous grading the
name is left out and the id is ``anon_<anonymous id>``.  Such a download is one
entry per Canvas user id (all of that student's files together; a zip or a
notebook on its own is read as one), named by the user id, which a Canvas
roster matches in its ``ID`` column; ``LATE`` is kept (``Entry.late``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import tempfile
from pathlib import Path

from grader.submission.errors import BadEntry
from grader.submission.reader import read as read_submission  # one reader for every entry point


@dataclasses.dataclass
class Entry:
    student: str
    entry: str
    files: dict = dataclasses.field(default_factory=dict)  # exercise file name -> bytes
    error: str = ""
    notes: list = dataclasses.field(default_factory=list)  # what reading it did (a notebook's magics removed)
    origins: dict = dataclasses.field(
        default_factory=dict
    )  # a notebook's exercises: their cells (grader.submission.cells)
    near: dict = dataclasses.field(default_factory=dict)  # exercise file -> a near-miss file found instead
    refused: dict = dataclasses.field(default_factory=dict)  # exercise file -> why (a notebook without its cell)
    seed: int = 0
    key: str = ""
    late: bool = False  # Canvas marked the submission LATE
    canvas_name: str = ""  # Canvas's name for the student (from its file names)


class LayoutError(Exception):
    """SUBMISSIONS is laid out in a way that would grade the wrong "students"."""


# Canvas's file names: the sortable name with every non-word character removed (an
# underscore stays; "_<digits>_" was squeezed out, so the name holds none), LATE, the
# user id, the attachment id, then the file's own name
CANVAS_FILE = re.compile(r"(?P<name>[^\W_]\w*?)(?P<late>_LATE)?_(?P<uid>\d+)_(?P<fid>\d+)_(?P<file>.+)")
CANVAS_TEXT = re.compile(r"(?P<name>[^\W_]\w*?)(?P<late>_LATE)?_(?P<uid>\d+)_(?P<kind>text|link)\.html")
# anonymous grading: no name, the id is "anon_<anonymous id>" (LATE before it)
CANVAS_ANON = re.compile(
    r"(?P<late>LATE_)?(?P<uid>anon_[A-Za-z0-9]+)_(?:(?P<fid>\d+)_(?P<file>.+)|(?P<kind>text|link)\.html)"
)
_DUPLICATE = re.compile(r"(?P<stem>.+?)-(?P<n>\d+)(?P<ext>\.[A-Za-z0-9]+)$")  # Canvas's "exercise1_softmax-1.py"


def _canvas_parts(name: str):
    return CANVAS_ANON.fullmatch(name) or CANVAS_FILE.fullmatch(name) or CANVAS_TEXT.fullmatch(name)


def _exercise_files():
    from grader.exercises import EXERCISES

    return {ex.file for ex in EXERCISES}


def _plain_names(submissions: Path) -> list:
    return [n for n in sorted(os.listdir(os.fsencode(submissions))) if not n.startswith(b".") and n != b"__MACOSX"]


def layout(submissions: Path) -> str:
    """ "canvas" (Canvas's download), or "entries" (one entry per student); LayoutError
    for loose exercise files at the top (one student's files, not a class)."""
    names = [os.fsdecode(n) for n in _plain_names(submissions)]
    files = [n for n in names if (submissions / n).is_file()]
    canvas = [n for n in files if _canvas_parts(n)]
    if canvas and 2 * len(canvas) >= len(names):
        return "canvas"
    loose = sorted(n for n in files if n in _exercise_files())
    if loose:
        raise LayoutError(
            f"{submissions} holds loose exercise files ({', '.join(loose[:3])}{' …' if len(loose) > 3 else ''}): "
            "that is one student's submission, not a class; give each student a folder, zip or file named by "
            "their id, or give Canvas's Download Submissions as it comes (files named "
            "name_userid_fileid_file), or grade one student with: grade --submission FOLDER"
        )
    return "entries"


def scan(submissions: Path, exercises) -> list:
    """Every entry of SUBMISSIONS as an ``Entry`` (with ``error`` set for bad ones),
    sorted by student id.  LayoutError: see ``layout``."""
    if layout(submissions) == "canvas":
        return _scan_canvas(submissions, exercises)
    entries = []
    for raw in sorted(os.listdir(os.fsencode(submissions))):
        if raw.startswith(b".") or raw == b"__MACOSX":
            continue
        path = Path(os.fsdecode(os.path.join(os.fsencode(submissions), raw)))
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            shown = raw.decode("utf-8", "backslashreplace")
            entries.append(
                Entry(shown, shown, error="the entry's name is not valid UTF-8; rename it to the student id")
            )
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


def _scan_canvas(submissions: Path, exercises) -> list:
    """Canvas's download: one entry per user id."""
    by_uid: dict = {}
    out = []
    for raw in _plain_names(submissions):
        name = os.fsdecode(raw)
        m = _canvas_parts(name) if (submissions / name).is_file() else None
        if m is None:
            name = raw.decode("utf-8", "backslashreplace")  # (shown, never opened)
            out.append(
                Entry(
                    name,
                    name,
                    error="not one of Canvas's downloaded files (name_userid_fileid_file) "
                    "though the rest of SUBMISSIONS is; remove it or grade it apart",
                )
            )
            continue
        by_uid.setdefault(m["uid"], []).append((name, m))
    for uid, group in by_uid.items():
        group.sort(key=lambda g: (int(g[1].groupdict().get("fid") or 0), g[0]))
        files = [(n, m) for n, m in group if m.groupdict().get("file")]
        name = group[0][1].groupdict().get("name") or ""
        e = Entry(
            uid,
            group[0][0] if len(group) == 1 else f"{name + '_' if name else ''}{uid}_* ({len(group)} files)",
            late=any(m["late"] for _, m in group),
            canvas_name=name,
        )
        if not files:
            e.error = (
                "submitted as a text entry or a URL on Canvas ("
                + ", ".join(n for n, _ in group)
                + "): no file to grade"
            )
        else:
            try:
                sub = _read_canvas(submissions, files, exercises)
                e.files, e.notes, e.origins = sub.files, sub.notes, sub.origins
            except BadEntry as err:
                e.error = str(err)
            except OSError as err:
                e.error = f"cannot be read ({err.strerror or err})"
        out.append(e)
    return sorted(out, key=lambda e: (not e.student.isdigit(), int(e.student) if e.student.isdigit() else 0, e.student))


def _own_name(display: str, wanted: set) -> str:
    """The file's name as the student gave it: Canvas renames a second upload of the same
    name "exercise1_softmax-1.py"."""
    m = _DUPLICATE.match(display)
    if m and display not in wanted and m["stem"] + m["ext"] in wanted:
        return m["stem"] + m["ext"]
    return display


def _read_canvas(submissions: Path, files: list, exercises):
    """One student's Canvas files, read as a submission: one zip, notebook or .py holding
    every exercise is read as it is; otherwise the files, under their own names (the
    latest upload of a name wins), as a folder."""
    wanted = _exercise_files()
    if len(files) == 1:
        name, m = files[0]
        if _own_name(m["file"], wanted) not in wanted:
            return read_submission(submissions / name, exercises)
    tmp = Path(tempfile.mkdtemp(prefix="grader-canvas-"))
    try:
        for name, m in files:  # in upload order (attachment ids): a later file of the same name wins
            own = _own_name(m["file"], wanted)
            if "/" in own or own in (".", ".."):
                continue
            shutil.copyfile(submissions / name, tmp / own, follow_symlinks=False)
        return read_submission(tmp, exercises)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
