"""A student submission that scans the worker's own memory for hidden text.

The test computes, outside every worker, a fingerprint of every line longer than 40
characters of every hidden suite (``grader/suites/``) and of ``reference/``: a keyed
BLAKE2b digest of the stripped line.  The submission holds only those digests, never the
text, so the scan cannot find its own needles.  At import it reads every readable
*writable* mapping of its own process (``/proc/self/maps`` + ``/proc/self/mem``: the heap,
anonymous memory where pymalloc's arenas and freed text live, the stack, libraries' data),
splits each chunk at line feeds, and looks up the digest of every stripped piece whose
length is that of a needle (UCS-2/UCS-4 text, as a ``str`` of a non-ASCII file holds it,
is looked at with its NUL bytes removed).  Read-only and executable mappings (library
code, read-only data) are skipped: hidden text read at run time cannot be there.

The submission reports through the only channel a report always carries: it raises at
import with ``MEMSCAN{...}`` (a JSON record of what it read and the indices of the lines
it found), so exercise 1 is a load error whose message holds the record.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KEY = b"nngrade-memscan"
MIN = 41  # "longer than 40 characters"


def hidden_files() -> list[Path]:
    return sorted((ROOT / "grader" / "suites").glob("*.py")) + sorted((ROOT / "reference").glob("*.py"))


def _lines(path: Path) -> list[bytes]:
    return [line.strip() for line in path.read_bytes().split(b"\n")]


def open_lines() -> set[bytes]:
    """The lines of the grader's modules that are not hidden: a worker may hold them (a traceback
    reads grader/untrusted/worker.py, say), so a hidden line equal to one of them (a row of
    dashes) is no sign of a leak."""
    hidden = set(hidden_files())
    return {s for path in (ROOT / "grader").rglob("*.py") if path not in hidden for s in _lines(path)}


def hidden_lines() -> list[tuple[str, int, bytes]]:
    """(file, line number, stripped line) of every hidden line longer than 40 characters that no
    module of the grader outside the hidden ones has too."""
    shared = open_lines()
    out = []
    for path in hidden_files():
        for n, s in enumerate(_lines(path), 1):
            if len(s) >= MIN and s not in shared:
                out.append((str(path.relative_to(ROOT)), n, s))
    return out


def digest(line: bytes) -> str:
    return hashlib.blake2b(line, digest_size=12, key=KEY).hexdigest()


def needles(lines: list[tuple[str, int, bytes]]) -> tuple[list[str], list[int]]:
    """The digests (the submission's data) and the lengths to look at."""
    return [digest(s) for _, _, s in lines], sorted({len(s) for _, _, s in lines})


SCANNER = r"""
import hashlib, json, re

def _scan(digests, lengths, key):
    wanted = {d: i for i, d in enumerate(digests)}
    lengths = frozenset(lengths)
    longest = 4 * (max(lengths) + 64)
    found, read, regions, errors = set(), 0, 0, 0
    maps = open("/proc/self/maps").read().splitlines()
    mem = open("/proc/self/mem", "rb", buffering=0)
    step = 16 << 20
    for row in maps:
        parts = row.split(None, 5)
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        perms, name = parts[1], (parts[5] if len(parts) > 5 else "")
        if perms[0] != "r" or perms[1] != "w" or name in ("[vvar]", "[vsyscall]", "[vdso]"):
            continue
        regions += 1
        carry = b""
        for at in range(lo, hi, step):
            try:
                mem.seek(at)
                chunk = mem.read(min(step, hi - at))
            except OSError:
                errors += 1
                carry = b""
                continue
            read += len(chunk)
            data = carry + chunk
            pieces = data.split(b"\n")
            carry = pieces.pop()[-longest:]
            for p in pieces:
                n = len(p)
                if n < 41 or n > longest:
                    continue
                if p.count(0) * 3 > len(p):
                    p = p.replace(b"\x00", b"")
                p = p.strip()
                if len(p) in lengths:
                    d = hashlib.blake2b(p, digest_size=12, key=key).hexdigest()
                    if d in wanted:
                        found.add(wanted[d])
            del data, pieces
    return {"read": read, "regions": regions, "errors": errors, "n": len(found), "found": sorted(found)[:12]}
"""


def submission(lines: list[tuple[str, int, bytes]]) -> str:
    """exercise1_softmax.py: scans, then raises its record (a correct softmax below)."""
    digests, lengths = needles(lines)
    return (
        SCANNER
        + f"\nDIGESTS = {json.dumps(digests)}\nLENGTHS = {lengths!r}\n"
        + f"_r = _scan(DIGESTS, LENGTHS, {KEY!r})\n"
        + "raise RuntimeError('MEMSCAN' + json.dumps(_r))\n"
        + "def softmax(x):\n    e = (x - x.amax(-1, keepdim=True)).exp()\n    return e / e.sum(-1, keepdim=True)\n"
    )


def record(message: str) -> dict:
    """The scan's record from a report's message (AssertionError if it is not there)."""
    m = re.search(r"MEMSCAN(\{.*?\})", message)
    assert m, f"no scan record in: {message}"
    return json.loads(m.group(1))


def describe(lines, found: list[int]) -> str:
    return "; ".join(f"{lines[i][0]}:{lines[i][1]}" for i in found[:20])


def records(doc) -> list[dict]:
    """Every scan record in a report (any format's JSON: grade's, a batch's, Gradescope's)."""
    found, todo = [], [doc]
    while todo:
        x = todo.pop()
        if isinstance(x, dict):
            todo.extend(x.values())
        elif isinstance(x, list):
            todo.extend(x)
        elif isinstance(x, str) and "MEMSCAN{" in x:
            found.append(record(x))
    return found
