"""Seeds and keys: each student's seed from the course secret, and the content key
that decides whether a student's last result still stands."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import secrets
from pathlib import Path

from grader import __version__, settings

SECRET_FILE = ".grader-secret"


def student_seed(secret: str, student: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{secret}\0{student}".encode()).digest()[:6], "big")


def fingerprint(exercises) -> str:
    """The grader version and a digest of everything that decides these
    exercises' grades: the grading code, their hidden suites, the reference
    and the report templates."""
    from grader.course import current

    base = Path(__file__).resolve().parent.parent
    suites = {ex.suite for ex in exercises}
    h = hashlib.sha256(__version__.encode())
    course = current()
    roots = [base, base.parent / "reference"] + ([] if course.builtin else [course.root])
    for root in roots:
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("*")):
            if (
                p.suffix not in (".py", ".j2", ".ini", ".toml")
                or "__pycache__" in p.parts
                or p.relative_to(root).parts[0] == "batch"
                or p.name == "cli.py"
            ):
                continue
            if p.name.startswith("test_exercise") and p.name not in suites:
                continue
            h.update(str(p.relative_to(root.parent)).encode() + b"\0")
            h.update(p.read_bytes())
    return f"{__version__}+{h.hexdigest()[:16]}"


def entry_key(files: dict, seed: int, exercises, limits, fp: str, origins: dict | None = None) -> str:
    lim = dataclasses.asdict(limits)
    lim.pop("hide", None)
    doc = {
        "files": {n: hashlib.sha256(d).hexdigest() for n, d in sorted(files.items())},
        "seed": seed,
        "exercises": [ex.name for ex in exercises],
        "grader": fp,
        "limits": lim,
    }
    if origins:  # a notebook whose cells moved: its report names other cells
        doc["origins"] = origins
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def load_secret(arg: str | None, out: Path) -> tuple:
    """(secret, where it came from)."""
    given = settings.SEED_SECRET.read(option_value=arg or None)
    if given.value:  # --seed-secret, else GRADER_SEED_SECRET
        return given.value, given.source.removeprefix("environment ")
    path = out / SECRET_FILE
    try:
        return path.read_text().strip(), str(path)
    except FileNotFoundError:
        pass
    secret = secrets.token_hex(16)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret, f"{path} (new)"
