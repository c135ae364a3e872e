"""Notebooks, in and out, through nbformat.

* ``exercises_from_notebook``: a submitted ``.ipynb`` → each exercise's code.  A
  code cell belongs to exercise N when it is tagged ``exerciseN`` (the release
  notebook's cells are), or when its first line is ``%%exercise N``, ``# exercise N``
  or ``# exerciseN_topic.py``.  Several cells of one exercise are joined in order;
  the ``import`` lines of unmarked cells are put in front of every exercise.
  Magics and shell escapes (``!pip``, ``%timeit``, ``%%bash``) are never run: they
  are removed, and the report says so.
* ``course_notebook``: the student notebook of the release (``grade release``).

The IPython extension (``%%exercise N``, ``%grade N``) is a front end of the grader:
``grader.commands.magic``.
"""

from __future__ import annotations

import ast
import json
import re

from grader.course import current
from grader.exercises import lookup
from grader.submission.errors import BadEntry

MARK_TAG = re.compile(r"^exercise[-_ ]?(\d+)$", re.I)
MARK_LINE = re.compile(r"^\s*(?:%%exercise\s+(\S+)|#\s*(exercise[-_ ]?\d+\b(?:_\w+)?(?:\.py)?))", re.I)
MAGIC_LINE = re.compile(r"^(\s*)(?:[!%]|[\w.]+(?:\s*,\s*[\w.]+)*\s*=\s*[!%])")
OWN_MAGICS = re.compile(r"^\s*%(?:load_ext|reload_ext)\s+grader\s*$|^\s*%grade\b")
MAX_NOTED = 5


def _bad(message: str):
    return BadEntry(message)


def parse(data: bytes, name: str = "the notebook"):
    """The notebook (nbformat v4) from a file's bytes; BadEntry with a clear message if it is not one."""
    import nbformat

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad(f"{name} is not a notebook: it is not UTF-8 text") from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise _bad(
            f"{name} is not valid JSON ({e}); open it in Jupyter and save it again, or hand in your .py files"
        ) from None
    except RecursionError:
        raise _bad(
            f"{name} is not a notebook: its JSON is nested too deeply to read; open it in Jupyter "
            "and save it again, or hand in your .py files"
        ) from None
    _no_lone_surrogates(data, name)
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as e:  # nbformat raises many kinds: none of them is the grader's fault
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise _bad(
            f"{name} is valid JSON but not a valid notebook ({first[:200]}); "
            "open it in Jupyter and save it again, or hand in your .py files"
        ) from None
    return nb


def _no_lone_surrogates(data, name: str) -> None:
    """BadEntry if a string of the notebook holds a lone surrogate (JSON's ``\\ud800`` escape):
    no text Python can write out, run or show.  Walked without recursion."""
    stack = [(data, None)]
    while stack:
        value, cell = stack.pop()
        if isinstance(value, dict):
            if cell is None and isinstance(value.get("cells"), list):
                stack += [(c, i) for i, c in enumerate(value["cells"], 1)]
                value = {k: v for k, v in value.items() if k != "cells"}
            stack += [(k, cell) for k in value]
            stack += [(v, cell) for v in value.values()]
        elif isinstance(value, list):
            stack += [(v, cell) for v in value]
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as e:
                where = f"cell {cell}" if cell else "its metadata"
                raise _bad(
                    f"{name} is not a notebook Python can read: {where} holds the escape of a lone "
                    f"surrogate ({ascii(value[e.start : e.end])}), which is no character; delete it, "
                    "or hand in your .py files"
                ) from None


def cell_exercise(cell):
    """The Exercise a code cell is marked for, or None."""
    meta = cell.get("metadata", {})
    own = meta.get("nngrade", {})
    if isinstance(own, dict) and isinstance(own.get("exercise"), int):
        try:
            return lookup(str(own["exercise"]))
        except KeyError:
            pass
    tags = meta.get("tags", [])
    for tag in tags if isinstance(tags, list) else []:
        m = MARK_TAG.match(str(tag))
        if m:
            try:
                return lookup(m.group(1))
            except KeyError:
                pass
    lines = [ln for ln in cell.source.splitlines() if ln.strip()]
    if lines:
        m = MARK_LINE.match(lines[0])
        if m:
            try:
                return lookup((m.group(1) or m.group(2)).replace(" ", "").replace("-", ""))
            except KeyError:
                return None
    return None


def clean(source: str):
    """(the cell's code without magics and shell escapes, what was removed).  A cell
    magic other than ``%%exercise`` removes the whole cell; a line magic or shell
    escape becomes ``pass``, so that the code around it stays valid."""
    lines = source.splitlines()
    removed = []
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        if re.match(r"^\s*%%exercise\b", lines[first]):
            lines[first] = ""
        else:
            return "", [lines[first].strip() + " (the whole cell)"]
    out = []
    for ln in lines:
        m = MAGIC_LINE.match(ln)
        if m and not ln.lstrip().startswith(("%=", "!=")):
            if not OWN_MAGICS.match(ln):
                removed.append(ln.strip())
            out.append(f"{m.group(1)}pass")
        else:
            out.append(ln)
    return "\n".join(out), removed


def _shown(line: str) -> str:
    """A removed line as a note shows it: short, and nothing a report format would act on."""
    return "'" + re.sub(r"[^\w %!=.,:/+\-()]", "?", line[:60]) + "'"


def _imports_at(code: str) -> list:
    """The top-level import statements of a cell's code with their first lines (none if it does not parse)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return []
    return [
        (ast.get_source_segment(code, node), node.lineno)
        for node in tree.body
        if isinstance(node, (ast.Import, ast.ImportFrom))
    ]


def _lines(code: str, cell, first: int = 1) -> list:
    """The origin (``grader.submission.cells``) of each line of ``code``, which starts at line ``first`` of ``cell``."""
    return [[cell, first + i] for i in range(code.count("\n") + 1)]


def exercises_from_notebook(data: bytes, exercises=None, name: str = "the notebook"):
    """A notebook's bytes → ({exercise file name: code bytes}, notes, {exercise file name: origin});
    BadEntry if it is no notebook.  An origin (``grader.submission.cells``) says which cell and line each line
    of the exercise's code came from."""
    from grader.submission.cells import origin

    nb = parse(data, name)
    chosen = {ex.file for ex in (current().exercises if exercises is None else exercises)}
    parts: dict = {}
    imports: list = []
    head: list = []  # the origin of each line of the imports put in front
    notes: list = []
    for index, cell in enumerate(nb.cells, 1):
        if cell.cell_type != "code":
            continue
        ex = cell_exercise(cell)
        code, removed = clean(cell.source)
        if removed and (ex is None or ex.file in chosen):
            shown = ", ".join(_shown(r) for r in removed[:MAX_NOTED])
            more = f" and {len(removed) - MAX_NOTED} more" if len(removed) > MAX_NOTED else ""
            owner = f"{ex.name}, " if ex else ""
            notes.append(
                f"{name} ({owner}cell {index}): not run by the grader: {shown}{more} "
                "(magics and shell escapes are removed from submissions)"
            )
        if ex is None:
            for segment, line in _imports_at(code):
                if segment not in imports:
                    imports.append(segment)
                    head += _lines(segment, index, line)
        elif ex.file in chosen:
            kept = code.strip("\n")
            first = 1 + len(code) - len(code.lstrip("\n"))
            parts.setdefault(ex.file, []).append((kept, index, first))
    files, origins = {}, {}
    for file, codes in parts.items():
        text = "\n".join(imports)
        body = "\n\n\n".join(code for code, _, _ in codes)
        files[file] = ((text + "\n\n\n" if text else "") + body + "\n").encode()
        lines = head + [None, None] if text else []
        for code, index, first in codes:
            lines += _lines(code, index, first) + [None, None]
        origins[file] = origin(name, [index for _, index, _ in codes], lines)
    return files, notes, origins


def missing_text(ex, name: str) -> str:
    return (
        f"no cell of {name} is marked as {ex.name}: tag the cell `{ex.name}` (View > Cell Toolbar > Tags) "
        f"or start it with `# {ex.name}` or `%%exercise {ex.number}`"
    )


# ---------------------------------------------------------------------------
# the release's notebook


def _docs(source: str) -> str:
    """The docstrings of a stub's functions and classes, as Markdown."""
    tree = ast.parse(source)
    out = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            doc = ast.get_docstring(node)
            if doc:
                kind = "class" if isinstance(node, ast.ClassDef) else "def"
                out.append(f"### `{kind} {node.name}`\n\n```text\n{doc}\n```")
                for sub in node.body:
                    if isinstance(sub, ast.FunctionDef) and ast.get_docstring(sub) and not sub.name.startswith("__"):
                        out.append(f"#### `{node.name}.{sub.name}`\n\n```text\n{ast.get_docstring(sub)}\n```")
    return "\n\n".join(out)


INTRO = """\
# {title}

Write each exercise in its cell (the one that starts with `%%exercise N`), run
that cell, then run the check cell below it (`%grade N`). The check runs your
code in a separate, limited worker process, never in this notebook, and shows
which tests passed and, for each failed one, the input, expected versus got and
a hint. It grades the exercise **as you last ran its cell**, saved or not.

The checks here are the visible tests; the hidden tests run when you submit.
Submit this notebook as it is (`grade all --submission course.ipynb` shows what
the grader will read from it). Magics and shell commands (`!pip`, `%timeit`)
are removed from submissions: keep your answers in plain Python.
"""


def course_notebook(stubs: dict, title: str = "PyTorch from its parts"):
    """The student notebook: {exercise file name: stub source} → a validated nbformat notebook."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells.append(new_markdown_cell(INTRO.format(title=title)))
    nb.cells.append(new_code_cell("%load_ext grader", metadata={"tags": ["setup"]}))
    for ex in current().exercises:
        source = stubs[ex.file]
        nb.cells.append(
            new_markdown_cell(
                f"## Exercise {ex.number}: {ex.title}\n\n{_docs(source)}",
                metadata={"nngrade": {"exercise": ex.number, "role": "instructions"}},
            )
        )
        nb.cells.append(
            new_code_cell(
                f"%%exercise {ex.number}\n{source.rstrip()}\n",
                metadata={"tags": [ex.name], "nngrade": {"exercise": ex.number}},
            )
        )
        nb.cells.append(
            new_code_cell(f"%grade {ex.number}", metadata={"tags": ["check"], "nngrade": {"check": ex.number}})
        )
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"  # the same course gives the same notebook, byte for byte
    nbformat.validate(nb)
    return nb
