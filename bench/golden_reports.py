"""Golden reports: the JSON and text reports of the model answers, the stubs and every
submission in tests/corpus, for two seeds, saved before a refactoring and compared after.

    python bench/golden_reports.py save tests/golden          # before
    python bench/golden_reports.py compare tests/golden       # after: exit 1 on any byte changed
    python bench/golden_reports.py compare tests/golden --only exercise1 solutions

Each report is made by `grade` itself (grader.cli.main, in this process, --no-server),
exactly as a student's `grade exerciseN --format json|text --seed N` makes it.  The
submission's folder is the one path a report may name that is not the code's own; it is
replaced by "<SUBMISSION>" so that the files do not depend on where the copy was made.
Saved as one JSON file per seed, {case: {"json": text, "text": text}}, sorted.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEEDS = (0, 1234)


def cases() -> list:
    """(name, exercises to grade, files to copy into the submission folder as {name: source})."""
    from grader.exercises import EXERCISES, lookup

    out = [
        ("solutions", "all", {ex.file: ROOT / "solutions" / ex.file for ex in EXERCISES}),
        ("stubs", "all", {ex.file: ROOT / "exercises" / ex.file for ex in EXERCISES}),
    ]
    for f in sorted((ROOT / "tests" / "corpus").glob("exercise*/*.py")):
        ex = lookup(f.parent.name)
        out.append((f"{f.parent.name}/{f.stem}", ex.name, {ex.file: f}))
    return out


_zygote = None


def _warm_zygote():
    """One warm worker for every report (as the warm server keeps one), renewed when a
    submission killed it; a fresh one per report gives the same bytes, only slower."""
    global _zygote
    from grader.cli import _new_zygote
    from grader.exercises import EXERCISES

    if _zygote is not None and _zygote.proc.poll() is not None:
        _zygote.close()
        _zygote = None
    if _zygote is None:
        import atexit

        _zygote = _new_zygote(EXERCISES)
        atexit.register(_zygote.close)
    return _zygote


def report(which: str, files: dict, seed: int, fmt: str, tmp: Path) -> str:
    from grader.cli import main

    sub = tmp / "submission"
    shutil.rmtree(sub, ignore_errors=True)
    sub.mkdir()
    for name, src in files.items():
        shutil.copyfile(src, sub / name)
    out = tmp / f"report.{fmt}"
    with contextlib.redirect_stderr(io.StringIO()):
        code = main(
            [which, "--submission", str(sub), "--seed", str(seed), "--format", fmt, "--output", str(out), "--no-color"],
            zygote=_warm_zygote(),
            serve=False,
        )
    text = out.read_text() if out.exists() else f"<no report: exit {code}>"
    out.unlink(missing_ok=True)
    return f"exit {code}\n" + text.replace(str(sub.resolve()), "<SUBMISSION>").replace(str(sub), "<SUBMISSION>")


def make(seed: int, only) -> dict:
    got = {}
    with tempfile.TemporaryDirectory(prefix="nngrade-golden-") as tmp:
        for name, which, files in cases():
            if only and not any(name == o or name.startswith(o + "/") for o in only):
                continue
            got[name] = {fmt: report(which, files, seed, fmt, Path(tmp)) for fmt in ("json", "text")}
            print(f"  seed {seed}: {name}", file=sys.stderr, flush=True)
    return got


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["save", "compare"])
    p.add_argument("folder", type=Path)
    p.add_argument("--only", nargs="*", default=[], help="cases to run: solutions, stubs, exerciseN[/name]")
    p.add_argument("--seed", type=int, action="append", help="only these seeds (default: 0 and 1234)")
    args = p.parse_args(argv)
    os.environ.pop("GITHUB_ACTIONS", None)
    changed = 0
    for seed in args.seed or SEEDS:
        path = args.folder / f"reports-seed{seed}.json"
        got = make(seed, args.only)
        if args.action == "save":
            args.folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(got, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
            print(f"saved {len(got)} cases x 2 formats to {path}")
            continue
        saved = json.loads(path.read_text())
        for name, formats in sorted(got.items()):
            for fmt, text in formats.items():
                before = saved.get(name, {}).get(fmt)
                if before != text:
                    changed += 1
                    print(f"CHANGED seed {seed} {name} ({fmt})")
                    import difflib

                    sys.stdout.writelines(
                        list(
                            difflib.unified_diff(
                                (before or "").splitlines(True), text.splitlines(True), "before", "after", n=1
                            )
                        )[:40]
                    )
        print(f"seed {seed}: {len(got)} cases x 2 formats compared with {path}")
    if args.action == "compare":
        print("all byte for byte the same" if not changed else f"{changed} reports changed")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
