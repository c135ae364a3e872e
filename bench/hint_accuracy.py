"""How often the first hint of a failing report names the actual mistake, over tests/corpus.

    python bench/hint_accuracy.py                 # every corpus file, a table and the share
    python bench/hint_accuracy.py --json out.json # also the per-file results as JSON
    python bench/hint_accuracy.py --only exercise9

Each ``bug_<mistake>.py`` in tests/corpus is graded alone (as ``grade exerciseN`` grades it,
seed 0, hint level ``fix``).  Its first line, ``# hint: <regex>``, is what a teacher reading the
report must find: the *first* hint of the report (the first failed test's, in the report's order)
names the mistake when the regex matches it (case-insensitive).  Any failed test whose hint is
empty or whitespace is counted as a blank hint.  ``ok_*.py`` files are graded too: one that loses
points is listed (a correct answer must get full marks).

The share is printed with the date; docs/internals/hint-accuracy.md records it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"


def expected_hint(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    m = re.fullmatch(r"#\s*hint:\s*(.+)", first.strip())
    if not m:
        raise SystemExit(f"{path}: the first line must be '# hint: <regex>'")
    return m.group(1)


def first_hint(entry: dict) -> str:
    """The hint a reader meets first: the first failed test's (report order), or the exercise's."""
    for t in entry["tests"]:
        if t["status"] not in ("passed", "skipped"):
            return t["hint"] or ""
    return entry.get("hint") or ""


def grade_one(path: Path, zygote, tmp: Path) -> dict:
    from grader.exercises import lookup
    from grader.harness.run import grade

    ex = lookup(path.parent.name)
    folder = tmp / f"{path.parent.name}-{path.stem}"
    folder.mkdir()
    shutil.copyfile(path, folder / ex.file)
    (entry,) = grade([ex], folder, seed=0, zygote=zygote).to_dict()["exercises"]
    return entry


def evaluate(path: Path, entry: dict) -> dict:
    failed = [t for t in entry["tests"] if t["status"] not in ("passed", "skipped")]
    row = {
        "file": f"{path.parent.name}/{path.name}",
        "score": entry["score"],
        "max": entry["max_score"],
        "failed": len(failed),
        "blank": sum(1 for t in failed if not (t["hint"] or "").strip()),
    }
    if path.name.startswith("bug_"):
        hint = first_hint(entry)
        row.update(
            first_hint=hint,
            expected=expected_hint(path),
            named=bool(failed) and bool(re.search(expected_hint(path), hint, re.I)),
        )
    else:
        row["named"] = None
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="*", default=[], help="exerciseN or exerciseN/bug_name")
    p.add_argument("--json", type=Path, help="write the per-file results here")
    args = p.parse_args(argv)
    from grader.cli import _new_zygote
    from grader.exercises import EXERCISES

    files = [
        f
        for f in sorted(CORPUS.glob("exercise*/*.py"))
        if not args.only or any(f"{f.parent.name}/{f.stem}".startswith(o) for o in args.only)
    ]
    zygote = _new_zygote(EXERCISES)
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="nngrade-hints-") as tmp:
            for f in files:
                row = evaluate(f, grade_one(f, zygote, Path(tmp)))
                rows.append(row)
                mark = {True: "named", False: "NOT NAMED", None: "ok" if row["failed"] == 0 else "LOST POINTS"}
                print(
                    f"{row['file']:55s} {row['score']:6.2f}/{row['max']:<3g} {mark[row['named']]}"
                    + (f"  blank hints: {row['blank']}" if row["blank"] else ""),
                    flush=True,
                )
                if row["named"] is False:
                    print(f"    first hint: {row['first_hint'][:300]!r}\n    wanted: {row['expected']!r}")
    finally:
        zygote.close()
    bugs = [r for r in rows if r["named"] is not None and r["failed"]]
    named = sum(1 for r in bugs if r["named"])
    blank = sum(r["blank"] for r in rows)
    share = named / len(bugs) if bugs else 1.0
    print(
        f"\n{datetime.date.today().isoformat()}: {named} of {len(bugs)} failing reports name the mistake "
        f"in their first hint ({share:.1%}); blank hints: {blank}; "
        f"correct answers losing points: {sum(1 for r in rows if r['named'] is None and r['failed'])}"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
