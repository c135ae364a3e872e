"""The IPython extension (``%load_ext grader``), a front end of the grader beside ``grade``.

``%%exercise N`` runs its cell in the kernel and records its source; ``%grade N`` grades
what was recorded in a separate grading process (``grade``, whose worker runs the student's
code) and shows the report inline (HTML in Jupyter, text elsewhere).  How a cell's code
becomes an exercise's file: ``grader.submission.notebook``.

Either takes ``--course DIR`` (the instructor's edition): that course is used from then on in
this kernel, as ``GRADER_COURSE`` (which the kernel's environment may set instead) would be.
"""

from __future__ import annotations

import json
import re

from grader.exercises import lookup
from grader.submission.notebook import MAX_NOTED, _imports_at, _lines, _shown, clean

_RECORDED: dict = {}  # exercise file name -> the cell's source as last run


def _words(line: str, magic: str):
    """The magic's words (shell-quoted, so a folder's name may hold spaces) without ``--course DIR``,
    whose course is used from now on (in this kernel and the grading processes it starts); None,
    with a line printed, when that cannot be."""
    import shlex

    from grader import course
    from grader.edition import EDITION

    try:
        words = shlex.split(line)
    except ValueError as e:
        print(f"{magic}: {e}")
        return None
    where = course.from_argv(words)
    if where is None and "--course" not in words:
        return words
    if EDITION == "student":
        print(f"{magic}: --course is for instructors: the student edition grades its own course")
        return None
    if not where:
        print(f"{magic}: --course needs a course folder (one holding course.toml)")
        return None
    try:
        course.use(where)
    except course.CourseError as e:
        print(f"{magic}: {e}")
        return None
    rest, skip = [], False
    for word in words:
        if skip or word.startswith("--course="):
            skip = False
        elif word == "--course":
            skip = True
        else:
            rest.append(word)
    return rest


def _exercise_magic(line, cell):
    from IPython import get_ipython

    words = _words(line, "%%exercise")
    if words is None:
        return
    try:
        ex = lookup(" ".join(words) or "?")
    except KeyError as e:
        print(f"%%exercise: {e.args[0]}")
        return
    _RECORDED[ex.file] = cell
    get_ipython().run_cell(cell)


def _from_history(ex):
    """Without a %%exercise cell: the last cell run in this kernel that defines one of the
    exercise's names (``def softmax``, ``class Linear``), with the imports run before it;
    (that code, its origin) or None."""
    try:
        from IPython import get_ipython

        history = list(get_ipython().user_ns.get("In", []))
    except Exception:
        return None
    pattern = re.compile(r"^(?:def|class)\s+(?:" + "|".join(map(re.escape, ex.names)) + r")\b", re.M)
    for i in range(len(history) - 1, 0, -1):
        if pattern.search(history[i] or ""):
            from grader.submission.cells import origin

            imports, lines = [], []
            for n, cell in enumerate(history[1:i], 1):
                for segment, line in _imports_at(clean(cell or "")[0]):
                    if segment not in imports:
                        imports.append(segment)
                        lines += _lines(segment, f"cell In [{n}]", line)
            label = f"cell In [{i}]"
            return "\n".join(imports + [history[i]]), origin(
                "this notebook", [label], lines + _lines(history[i], label)
            )
    return None


def _report_html(html: str, lines: int) -> str:
    import html as html_mod

    # a first guess, then the frame grows to its content once loaded: a long hint is never hidden
    height = 140 + 26 * lines
    fit = "this.style.height=(this.contentWindow.document.documentElement.scrollHeight+24)+'px'"
    return (
        f'<iframe srcdoc="{html_mod.escape(html, quote=True)}" onload="{fit}" '
        f'style="width:100%;height:{height}px;border:1px solid #ddd;resize:vertical"></iframe>'
    )


def grade_recorded(ex, timeout: float = 600.0):
    """Grade what ``%%exercise`` recorded for ``ex`` in a separate grading process;
    (report dict or None, text to show)."""
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from grader.submission.cells import origin, relocate

    label = f"your %%exercise {ex.number} cell"
    found = (
        (_RECORDED[ex.file], origin("this notebook", [label], _lines(_RECORDED[ex.file], label, 2)))
        if _RECORDED.get(ex.file)
        else _from_history(ex)
    )
    if found is None:
        return None, (
            f"Run the cell of {ex.name} first (the one that starts with `%%exercise {ex.number}`): "
            "%grade checks the code as you last ran it."
        )
    source, where = found
    code, removed = clean(source)
    with tempfile.TemporaryDirectory(prefix="grade-notebook-") as tmp:
        folder = Path(tmp) / "notebook"
        folder.mkdir()
        (folder / ex.file).write_text(code + "\n")
        out = Path(tmp) / "report.json"
        cmd = [
            sys.executable,
            "-m",
            "grader.cli",
            ex.name,
            "--submission",
            str(folder),
            "--format",
            "json",
            "--output",
            str(out),
        ]
        r = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp, env=dict(os.environ, PYTHONUNBUFFERED="1")
        )
        if not out.exists():
            return None, f"grade could not run (exit status {r.returncode}):\n{r.stderr.strip()}"
        report = json.loads(out.read_text())
    report = relocate(report, {ex.file: where})
    report["submission"] = "this notebook"
    if removed:
        report.setdefault("notes", []).append(
            "not run by the grader: "
            + ", ".join(_shown(x) for x in removed[:MAX_NOTED])
            + " (magics and shell escapes are removed from submissions)"
        )
    return report, ""


def _grade_magic(line):
    from IPython.display import display

    from grader.feedback.report import render

    words = _words(line, "%grade")
    if words is None:
        return
    try:
        chosen = [lookup(n) for n in words]
    except KeyError as e:
        print(f"%grade: {e.args[0]}")
        return
    if not chosen:
        print("%grade: say which exercise, e.g. %grade 3 (or %grade 3 --course DIR)")
        return
    for ex in chosen:
        report, problem = grade_recorded(ex)
        if report is None:
            print(problem)
            continue
        text = render(report, "text", color=False)
        display({"text/plain": text, "text/html": _report_html(render(report, "html"), text.count("\n"))}, raw=True)


def load_ipython_extension(ipython) -> None:
    ipython.register_magic_function(_exercise_magic, "cell", "exercise")
    ipython.register_magic_function(_grade_magic, "line", "grade")
