"""Where a notebook exercise's code came from, so that its report names cells, not a file.

A notebook's exercise is graded as a file made from its cells (``grader.submission.notebook``:
``exercise2_log_softmax.py``), which the student never sees.  An *origin* maps
that file's lines back to the notebook: ``{"notebook": "w.ipynb", "cells": [5],
"lines": [[cell, line in the cell] or None, ...]}`` (plain data: it travels with a
batch task).  A cell is its number in the notebook (every cell counts, as in the
notebook's notes) or, for ``%grade``, a phrase ("your %%exercise 2 cell"); lines
count as Jupyter shows them, the ``%%exercise N`` line being line 1.

``relocate(report, origins)`` rewrites, for each exercise graded from a notebook,
"<file>, line N" and "line N" into "w.ipynb, cell 5, line 4", the advice to run or
edit the file into advice about the cell, and drops the reproducer's import (the
student pastes it into a new cell, where the exercise's names are defined).
"""

from __future__ import annotations

import copy
import re

FIELDS = ("message", "hint", "trace", "reproducer")


def origin(notebook: str, cells: list, lines: list) -> dict:
    return {"notebook": notebook, "cells": list(dict.fromkeys(cells)), "lines": lines}


def _at(o: dict, n: int):
    """(cell, line in the cell) of the graded file's line ``n``; a line between or after
    cells counts on from the last line before it that came from a cell; None before any."""
    lines = o["lines"]
    for k in range(min(n, len(lines)), 0, -1):
        if lines[k - 1] is not None:
            cell, line = lines[k - 1]
            return cell, line + (n - k)
    return None


def _cell(o: dict, cell) -> str:
    return f"{o['notebook']}, cell {cell}" if isinstance(cell, int) else str(cell)


def _cells(o: dict) -> str:
    """The exercise's cells, for advice that named the file."""
    cells = o["cells"]
    if cells and all(isinstance(c, int) for c in cells):
        many = ", ".join(map(str, cells[:-1])) + f" and {cells[-1]}" if len(cells) > 1 else str(cells[0])
        return f"cell{'s' if len(cells) > 1 else ''} {many} of {o['notebook']}"
    return " and ".join(map(str, cells)) or o["notebook"]


def _fix(text: str, file: str, o: dict, bare: bool = False) -> str:
    """``text`` naming the notebook's cells where it named ``file`` and its lines."""
    if not isinstance(text, str) or not text:
        return text
    name = re.escape(file)
    bare = bare or file in text

    def line(m):
        where = _at(o, int(m.group("n")))
        if (
            where is None
            or not (m.group("file") or bare)
            or (not m.group("file") and m.string[max(0, m.start() - 2) : m.start()] == ", ")
        ):
            return m.group(0)  # another file's line (a traceback's File ".../torch/x.py", line N)
        cell, n = where
        if not m.group("file"):
            return f"cell {cell}, line {n}" if isinstance(cell, int) else f"{cell}, line {n}"
        if m.group("file").startswith('"'):  # a traceback's File "...", line N
            return f'"{_cell(o, cell)}", line {n}'
        return f"{_cell(o, cell)}, line {n}"

    text = re.sub(r'(?P<file>"?(?:[^\s"\'(`]*/)?' + name + r'"?, )?\bline (?P<n>\d+)\b', line, text)
    text = re.sub(r"Run `python " + name + "`", "Run that cell", text).replace(
        "Python cannot read the file.", "Python cannot read the cell."
    )
    return re.sub(r'(?:[^\s"\'(`]*/)?' + name + r"\b", lambda m: _cells(o), text)


def _reproducer(code: str, file: str) -> str:
    """The reproducer without its import of the exercise's module: in a new cell below
    the exercise's, its names are already defined."""
    module = re.escape(file[:-3] if file.endswith(".py") else file)
    return re.sub(r"^from " + module + r" import [^\n]*\n", "", code, flags=re.M)


def relocate(report: dict, origins: dict) -> dict:
    """A copy of ``report`` whose exercises graded from a notebook (``origins``: exercise
    file name → origin) name its cells and their lines; the others as they were."""
    if not origins or not any(ex.get("file") in origins for ex in report.get("exercises", ())):
        return report
    report = copy.deepcopy(report)
    for ex in report["exercises"]:
        file, o = ex.get("file"), origins.get(ex.get("file"))
        if not o:
            continue
        ex["notebook"] = {"name": o["notebook"], "cells": list(o["cells"])}
        for item in [ex] + list(ex.get("tests") or ()):
            if item.get("reproducer"):
                item["reproducer"] = _reproducer(item["reproducer"], file)
            for key in FIELDS:
                if key in item:
                    item[key] = _fix(item[key], file, o)
        for item in ex.get("review") or ():
            if not isinstance(item, dict):
                continue
            item["message"] = _fix(item.get("message", ""), file, o, bare=True)
            where = _at(o, item["line"]) if isinstance(item.get("line"), int) and item["line"] > 0 else None
            if where:
                item["cell"], item["line"] = where
    return report
