"""The student edition's check that the folder it grades is from the release it was installed
from: a release folder's MANIFEST.json (written by ``grade release``) lists the sha256 of its
package's files, and the files that say which release it is (the course's declaration
``grader/course.toml``, the edition with its hint level ``grader/edition.py``, the visible
checks' data ``grader/suites/*.json``) are compared with the installed package's.  Standard
library only, a few small files read: ``grade`` pays a few ms for it."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
from pathlib import Path

GRADER = Path(__file__).resolve().parents[1]  # the installed package ``grader``
MANIFEST = "MANIFEST.json"
PACKAGE = "package/grader/"


def _says_which_release(name: str) -> bool:
    """Whether the package file ``name`` (relative to ``grader/``) is one that says which release it is."""
    return name in ("course.toml", "edition.py") or (name.startswith("suites/") and name.endswith(".json"))


def _sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _listed(manifest: Path) -> dict[str, str] | None:
    """{name relative to grader/: sha256} of the files that say which release it is, as the
    manifest lists them; None when it is unreadable, malformed or lists none of them."""
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, RecursionError):
        return None
    if not isinstance(files, dict):
        return None
    listed = {
        key.removeprefix(PACKAGE): value
        for key, value in files.items()
        if isinstance(key, str) and key.startswith(PACKAGE) and _says_which_release(key.removeprefix(PACKAGE))
    }
    if not listed or not all(isinstance(v, str) for v in listed.values()):
        return None
    return listed


def differs(manifest: Path, installed: Path = GRADER) -> bool:
    """Whether the package installed at ``installed`` is from another release than the one whose
    MANIFEST.json is ``manifest``: one of the files that say which release differs, is missing, or
    the installed package has check data the release does not list.  False when the manifest
    cannot say (unreadable, malformed)."""
    listed = _listed(manifest)
    if listed is None:
        return False
    if any(_sha256(installed / name) != digest for name, digest in listed.items()):
        return True
    extra = {f"suites/{p.name}" for p in (installed / "suites").glob("*.json")} - set(listed)
    return bool(extra)


def release_manifest(submission: Path) -> Path | None:
    """The MANIFEST.json of the release folder that holds the submission (beside the submission's
    folder, or beside the notebook), else the current directory's; None when none has one."""
    try:
        folder = submission.resolve()
        candidates = [folder.parent / MANIFEST, Path.cwd() / MANIFEST]
        if not folder.is_dir():  # a notebook (course.ipynb, beside MANIFEST.json), or one exercise's file
            candidates.insert(1, folder.parent.parent / MANIFEST)
        return next((p for p in candidates if p.is_file()), None)
    except (OSError, RuntimeError):
        return None


def warning(submission: Path, installed: Path = GRADER) -> str | None:
    """The one warning line when the submission's release folder is from another release than the
    installed package; None when it is the same, or there is no release folder to compare with."""
    manifest = release_manifest(submission)
    if manifest is None or not differs(manifest, installed):
        return None
    package = manifest.parent / "package"
    try:
        shown = os.path.relpath(package)
    except ValueError:  # another drive (Windows)
        shown = str(package)
    if not shown.startswith(".."):
        shown = os.path.join(".", shown)
    return (
        "grade: warning: this folder is from another release than the grade installed (its checks differ): "
        f"install this folder's: pip install {shlex.quote(shown)}"
    )
