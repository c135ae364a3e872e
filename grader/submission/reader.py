"""One way to read a submission, for every entry point (``grade``, ``grade batch``,
notebooks, platform bundles).

``read(path, exercises)`` turns what a student handed in into the exercise files
the grader copies into a worker, ``{exercise file name: bytes}``, plus notes:

* a folder (the exercise files in it, or in the nested folder that holds the
  most of them; or, with no exercise file at all, the notebooks in it),
* a ``.zip`` of such a folder,
* a single ``.py`` file holding every exercise,
* a ``.ipynb`` notebook (``grader.submission.notebook`` says which cells are which exercise).

Only regular files inside the submission are read.  A symbolic link (to a model
answer, or anywhere else) is refused with a clear message, never followed; so is
a zip member that is a link or whose path leaves the zip's folder.  The standard
library only: ``grade``'s start-up does not pay for it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import stat
from pathlib import Path

from grader.statuses import ExerciseStatus
from grader.submission.errors import BadEntry

MAX_FILE_BYTES = 1 << 20  # one exercise file
MAX_ENTRY_BYTES = 8 << 20  # all exercise files of one student
MAX_ZIP_BYTES = 64 << 20  # what a zip may unpack to, all members together
MAX_ZIP_MEMBERS = 2000
MAX_ZIP_RATIO = 200  # compression ratio of one member
MAX_NOTEBOOK_BYTES = 32 << 20  # a notebook, outputs included (they are dropped)
MAX_DEPTH = 4  # nested folders searched below the submission


@dataclasses.dataclass
class Submission:
    files: dict = dataclasses.field(default_factory=dict)  # exercise file name -> bytes
    notes: list = dataclasses.field(default_factory=list)  # what the grader did with it (magics removed, ...)
    refused: dict = dataclasses.field(default_factory=dict)  # exercise file name -> why it was not read
    kind: str = "folder"  # folder, zip, py, notebook
    origins: dict = dataclasses.field(default_factory=dict)  # exercise file name -> its cells (grader.submission.cells)
    near: dict = dataclasses.field(default_factory=dict)  # exercise file name -> a near-miss file found instead


_NEAR = re.compile(r"exercise[\s_-]*0*(\d+)(?!\d)")


def near_misses(names, exercises) -> dict:
    """{exercise file: the file in ``names`` that is almost it} for the exercises whose file is not
    there: ``exercise3.py``, ``Exercise3_Cross_Entropy.py``, a browser's ``exercise3_cross_entropy (1).py``."""
    names = sorted(set(names))
    out = {}
    for ex in exercises:
        if ex.file in names:
            continue
        for name in names:
            low = name.lower()
            m = _NEAR.match(low)
            if m and int(m.group(1)) == ex.number and (low.endswith(".py") or ".py" in low):
                out[ex.file] = name
                break
    return out


def near_miss_text(file: str, found: str) -> tuple:
    """(message, hint) for an exercise whose file is missing while ``found`` is almost it."""
    return (
        f"{file} is not in the submission, but {found} is: the grader reads each exercise from its exact file name",
        f"Rename {found} to {file}"
        + (' (a browser adds " (1)" to a file downloaded twice)' if re.search(r" \(\d+\)", found) else "")
        + " and submit again.",
    )


def _read_capped(f, limit: int, what: str) -> bytes:
    data = f.read(limit + 1)
    if len(data) > limit:
        raise BadEntry(f"{what} is larger than {limit >> 10} KiB")
    return data


def _best_folder(candidates: dict, wanted: set) -> str | None:
    """Of {folder: set of file names}, the folder holding the most wanted files
    (the shallowest on a tie)."""
    best, best_n = None, 0
    for folder in sorted(candidates, key=lambda f: (f.count("/"), f)):
        n = len(candidates[folder] & wanted)
        if n > best_n:
            best, best_n = folder, n
    return best


def _read_regular(fpath: str, name: str, limit: int) -> bytes:
    """A regular file's bytes, never through a symbolic link."""
    try:
        fd = os.open(fpath, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        if os.path.islink(fpath):
            raise BadEntry(
                f"{name} is a symbolic link, not a file: links are not followed "
                "(copy the file itself into the submission)"
            ) from None
        raise BadEntry(f"{name} cannot be read ({e.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise BadEntry(f"{name} is not a regular file")
        return _read_capped(f, limit, name)


def _walk(path: Path) -> dict:
    """{relative folder: set of file names} below ``path``, links neither followed nor listed as folders."""
    found: dict = {}
    root = str(path)
    for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
        rel = os.path.relpath(dirpath, root)
        depth = 0 if rel == "." else rel.count(os.sep) + 1
        dirnames[:] = (
            sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX") if depth < MAX_DEPTH else []
        )
        found["" if rel == "." else rel] = set(filenames)
    return found


def load_folder(path: Path, exercises, strict: bool = True) -> Submission:
    """The exercise files of a folder.  ``strict``: a bad exercise file refuses the
    whole folder (``grade batch``); otherwise only that exercise is refused (``grade``)."""
    wanted = {ex.file for ex in exercises}
    found = _walk(path)
    py = {f: {n for n in names if n.endswith(".py")} for f, names in found.items()}
    if not any(py.values()):
        notebooks = sorted(os.path.join(f, n) for f, names in found.items() for n in names if n.endswith(".ipynb"))
        if notebooks:
            return _load_notebooks(path, notebooks, exercises, strict)
        raise BadEntry(
            "the folder holds no .py file" if any(found.values()) or len(found) > 1 else "the folder is empty"
        )
    sub = Submission(kind="folder")
    folder = _best_folder(py, wanted)
    sub.near = near_misses(
        found.get(folder or "", set()) if folder is not None else set().union(*found.values()), exercises
    )
    if folder is None:
        notebooks = sorted(os.path.join(f, n) for f, names in found.items() for n in names if n.endswith(".ipynb"))
        return _load_notebooks(path, notebooks, exercises, strict) if notebooks else sub
    total = 0
    for name in sorted(py[folder] & wanted):
        try:
            sub.files[name] = _read_regular(os.path.join(str(path), folder, name), name, MAX_FILE_BYTES)
        except BadEntry as e:
            if strict:
                raise
            sub.refused[name] = str(e)
            continue
        total += len(sub.files[name])
    if total > MAX_ENTRY_BYTES:
        raise BadEntry(f"the exercise files are larger than {MAX_ENTRY_BYTES >> 20} MiB together")
    return sub


def _load_notebooks(path: Path, notebooks: list, exercises, strict: bool) -> Submission:
    """A folder of notebooks: each exercise from the first notebook (in name order) that holds it."""
    from grader.submission.notebook import exercises_from_notebook

    sub = Submission(kind="notebook")
    for rel in notebooks:
        try:
            data = _read_regular(os.path.join(str(path), rel), rel, MAX_NOTEBOOK_BYTES)
            files, notes, origins = exercises_from_notebook(data, exercises, rel)
        except BadEntry as e:
            if strict and len(notebooks) == 1:
                raise
            sub.notes.append(str(e))
            continue
        for name, code in files.items():
            if name not in sub.files:
                sub.files[name], sub.origins[name] = code, origins[name]
        sub.notes += notes
    if not sub.files and sub.notes and strict:
        raise BadEntry("; ".join(sub.notes))
    return _missing(sub, exercises, "the notebooks" if len(notebooks) > 1 else notebooks[0])


def load_zip(path: Path, exercises) -> Submission:
    import zipfile
    import zlib

    wanted = {ex.file for ex in exercises}
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise BadEntry(f"not a readable zip file ({e})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ZIP_MEMBERS:
            raise BadEntry(f"the zip holds {len(infos)} files (at most {MAX_ZIP_MEMBERS} allowed)")
        total = sum(i.file_size for i in infos)
        if total > MAX_ZIP_BYTES:
            raise BadEntry(
                f"the zip would unpack to {total >> 20} MiB (at most {MAX_ZIP_BYTES >> 20} MiB): "
                "a zip bomb or not a submission"
            )
        found: dict = {}
        members: dict = {}
        any_py = False
        for info in infos:
            name = info.filename.replace("\\", "/")
            parts = [p for p in name.split("/") if p not in ("", ".")]
            if name.startswith("/") or ".." in parts or re.match(r"^[A-Za-z]:", name):
                raise BadEntry(f"the zip holds a path outside its folder ({info.filename!r})")
            if info.is_dir() or not parts or parts[0] == "__MACOSX" or any(p.startswith(".") for p in parts):
                continue
            if (
                info.compress_size
                and info.file_size / info.compress_size > MAX_ZIP_RATIO
                and info.file_size > (1 << 20)
            ):
                raise BadEntry(
                    f"{parts[-1]} in the zip is compressed {info.file_size // info.compress_size}:1 (a zip bomb?)"
                )
            if parts[-1].endswith(".py"):
                any_py = True
                folder = "/".join(parts[:-1])
                found.setdefault(folder, set()).add(parts[-1])
                members[(folder, parts[-1])] = info
        if not any_py:
            raise BadEntry("the zip holds no .py file" if infos else "the zip is empty")
        folder = _best_folder(found, wanted)
        sub = Submission(kind="zip")
        if folder is None:
            return sub
        for name in sorted(found[folder] & wanted):
            info = members[(folder, name)]
            if stat.S_ISLNK(info.external_attr >> 16):
                raise BadEntry(f"{name} in the zip is a symbolic link, not a file")
            try:
                with zf.open(info) as f:
                    sub.files[name] = _read_capped(f, MAX_FILE_BYTES, name)
            except (
                zipfile.BadZipFile,
                zlib.error,
                OSError,
                EOFError,
                ValueError,
                NotImplementedError,
                RuntimeError,
            ) as e:
                raise BadEntry(f"the zip is corrupt: {name} cannot be unpacked ({e})") from None
        if sum(map(len, sub.files.values())) > MAX_ENTRY_BYTES:
            raise BadEntry(f"the exercise files are larger than {MAX_ENTRY_BYTES >> 20} MiB together")
        return sub


def load_py(path: Path, exercises) -> Submission:
    data = _read_regular(str(path), path.name, MAX_FILE_BYTES)
    if not data.strip():
        raise BadEntry("the file is empty")
    # one file holding every exercise: it is graded as each exercise's file
    return Submission({ex.file: data for ex in exercises}, kind="py")


def load_notebook(path: Path, exercises) -> Submission:
    from grader.submission.notebook import exercises_from_notebook

    data = _read_regular(str(path), path.name, MAX_NOTEBOOK_BYTES)
    files, notes, origins = exercises_from_notebook(data, exercises, path.name)
    return _missing(Submission(files, notes, kind="notebook", origins=origins), exercises, path.name)


def _missing(sub: Submission, exercises, name: str) -> Submission:
    """A notebook submission's exercises that no cell is marked for: refused, saying how to mark one."""
    from grader.submission.notebook import missing_text

    for ex in exercises:
        if ex.file not in sub.files:
            sub.refused.setdefault(ex.file, missing_text(ex, name))
    return sub


def read(path: Path, exercises, strict: bool = True) -> Submission:
    """The submission at ``path`` (folder, .zip, .py or .ipynb); BadEntry if it cannot be read at all.
    A link as the submission itself is refused like a link inside it.

    Nothing else escapes: whatever a submission holds, the error is the entry's alone
    (``BadEntry`` or ``OSError``, which callers turn into a message), never the grader's."""
    try:
        return _read(Path(path), exercises, strict)
    except (BadEntry, OSError):
        raise
    except RecursionError:
        raise BadEntry("the submission is nested too deeply to read") from None
    except MemoryError:
        raise BadEntry("the submission is too large to read") from None
    except Exception as e:  # a reader's own failure on this input: this entry's problem, said as it is
        raise BadEntry(
            f"the submission cannot be read: the grader's reader failed on it ({type(e).__name__}); "
            "hand in plain .py files, and please report it"
        ) from None


def _read(path: Path, exercises, strict: bool) -> Submission:
    if path.is_symlink():
        raise BadEntry(f"{path.name} is a symbolic link: give the submission itself")
    if path.is_dir():
        return load_folder(path, exercises, strict)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise BadEntry("not a folder, a .zip, a .py or an .ipynb file")
    if suffix == ".zip":
        return load_zip(path, exercises)
    if suffix == ".py":
        return load_py(path, exercises)
    if suffix == ".ipynb":
        return load_notebook(path, exercises)
    raise BadEntry("not a folder, a .zip, a .py or an .ipynb file")


def annotate(report: dict, sub: Submission | None, shown: str | None = None, folder: str | None = None) -> dict:
    """The report of a submission read by ``read``: refused exercises get 0 and
    the reason, the notes are listed, and ``shown`` replaces the submission's path
    (``folder``: the temporary folder it was graded from, wherever a message names it)."""
    if folder is not None and shown is not None:
        report = _replace(report, folder, shown)
    if shown is not None:
        report["submission"] = shown
    if sub is None:
        return report
    report = refuse(report, sub.refused)
    report = name_near_misses(report, sub.near)
    if sub.notes:
        report["notes"] = list(report.get("notes", [])) + list(sub.notes)
    if sub.origins:  # a notebook's exercises: messages name its cells, not the file they were graded as
        from grader.submission.cells import relocate

        report = relocate(report, sub.origins)
    return report


def refuse(report: dict, refused: dict) -> dict:
    """The exercises the reader refused (a notebook without their cell, say) get 0 and the reason."""
    for ex in report["exercises"]:
        why = (refused or {}).get(ex["file"])
        if why:
            ex.update(status=ExerciseStatus.LOAD_ERROR, score=0.0, message=why, hint="", tests=[])
    if refused:
        report["score"] = round(sum(ex["score"] for ex in report["exercises"]), 2)
    return report


def name_near_misses(report: dict, near: dict) -> dict:
    """A missing exercise whose near-miss file was found says which file and how to fix it."""
    for ex in report["exercises"]:
        if ex["status"] == ExerciseStatus.MISSING and ex["file"] in (near or {}):
            ex["message"], ex["hint"] = near_miss_text(ex["file"], near[ex["file"]])
    return report


def _replace(value, old: str, new: str):
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    return value


def in_place(path: Path, sub: Submission) -> bool:
    """Whether ``grade`` may grade ``path`` itself (as it always has): a folder whose every
    exercise file read is a regular file at its top level, or one .py holding every exercise;
    nothing refused, no notes."""
    if sub.kind == "py" and not sub.refused and not sub.notes:
        return True  # one .py holding every exercise: each exercise is judged on its own part of it
    if sub.kind != "folder" or sub.refused or sub.notes:
        return False
    for name in sub.files:
        try:
            if not stat.S_ISREG(os.lstat(os.path.join(str(path), name)).st_mode):
                return False
        except OSError:
            return False
    return True


def materialize(sub: Submission, folder: Path) -> Path:
    """Write the submission's exercise files into ``folder`` (created) for the workers to copy."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in sub.files.items():
        (folder / name).write_bytes(data)
    return folder


class Prepared:
    """A submission read for ``grade``: ``annotate(report)`` finishes its report."""

    def __init__(self, sub: Submission, shown: str | None, folder: str | None):
        self.sub, self.shown, self.folder = sub, shown, folder

    def annotate(self, report: dict) -> dict:
        report = annotate(report, self.sub, self.shown, self.folder)
        from grader import edition

        return edition.annotate(report)


def read_for_grade(path: Path, exercises):
    """``grade``'s submission: (Prepared, the folder to grade, cleanup()).  What cannot
    be read at all gives every chosen exercise 0 with the reason, never an error."""
    import shutil
    import tempfile

    path = Path(path)
    try:
        sub = read(path, exercises, strict=False)
    except BadEntry as e:
        if path.is_dir() and not path.is_symlink():  # empty, or no .py file: each exercise says it is missing
            return Prepared(Submission(), None, None), path.resolve(), lambda: None
        sub = Submission(kind="unreadable", refused={ex.file: str(e) for ex in exercises})
    except OSError as e:
        why = f"{path.name} cannot be read ({e.strerror or e})"
        sub = Submission(kind="unreadable", refused={ex.file: why for ex in exercises})
    if in_place(path, sub):
        return Prepared(sub, None, None), path.resolve(), lambda: None
    tmp = tempfile.mkdtemp(prefix="grade-submission-")
    folder = materialize(sub, Path(tmp) / "submission")
    return (Prepared(sub, os.path.abspath(path), str(folder)), folder, lambda: shutil.rmtree(tmp, ignore_errors=True))
