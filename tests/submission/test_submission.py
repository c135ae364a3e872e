"""One way to read a submission (grader.submission.reader): folders, nested folders, a single
.py, zips and notebooks, the same for `grade` and `grade batch`; links refused."""

import json
import os
import zipfile

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from grader.exercises import EXERCISES, lookup
from grader.submission.errors import BadEntry
from grader.submission.reader import read
from tests.conftest import ROOT, exercise_of, run_cli

EX1, EX3 = lookup("1"), lookup("3")
SOLUTIONS = ROOT / "solutions"


def _solution(ex) -> str:
    return (SOLUTIONS / ex.file).read_text()


def _notebook(cells) -> nbformat.NotebookNode:
    nb = new_notebook()
    nb.cells = cells
    nbformat.validate(nb)
    return nb


# -- the shapes of a submission ---------------------------------------------------------------


def test_every_shape_reads_the_same_files(tmp_path):
    want = {ex.file: (SOLUTIONS / ex.file).read_bytes() for ex in (EX1, EX3)}
    flat = tmp_path / "flat"
    flat.mkdir()
    nested = tmp_path / "nested" / "home" / "work"
    nested.mkdir(parents=True)
    for name, data in want.items():
        (flat / name).write_bytes(data)
        (nested / name).write_bytes(data)
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as z:
        for name, data in want.items():
            z.writestr(f"work/{name}", data)
    nb = _notebook([new_code_cell(f"# {ex.name}\n" + _solution(ex)) for ex in (EX1, EX3)])
    nbformat.write(nb, str(tmp_path / "s.ipynb"))
    for path in (flat, tmp_path / "nested", tmp_path / "s.zip"):
        assert read(path, [EX1, EX3]).files == want, path
    sub = read(tmp_path / "s.ipynb", [EX1, EX3])
    assert sub.kind == "notebook" and set(sub.files) == set(want) and not sub.refused
    for name, data in want.items():  # the cell's code, below its marker line (a comment)
        assert sub.files[name].split(b"\n", 1)[1].strip() == data.strip()
    single = tmp_path / "all.py"
    single.write_bytes(want[EX1.file] + b"\n" + want[EX3.file])
    assert set(read(single, [EX1, EX3]).files) == set(want)


@pytest.mark.slow
def test_a_symlinked_exercise_is_refused_under_grade(tmp_path):
    """Hostile: an exercise file that is a link to the model answer got 10/10 under `grade`."""
    os.symlink(SOLUTIONS / EX1.file, tmp_path / EX1.file)
    (tmp_path / EX3.file).write_bytes((SOLUTIONS / EX3.file).read_bytes())
    out = tmp_path / "r.json"
    r = run_cli("1", "3", "--submission", tmp_path, "--output", out, timeout=300)
    assert r.returncode == 1, r.stderr
    report = json.loads(out.read_text())
    ex1, ex3 = exercise_of(report, "exercise1"), exercise_of(report, "exercise3")
    assert ex1["score"] == 0.0 and "symbolic link" in ex1["message"] and "not followed" in ex1["message"]
    assert ex3["score"] == 10.0  # the other exercise is graded as usual
    assert report["score"] == 10.0 and report["submission"] == str(tmp_path)
    assert "Traceback" not in r.stderr
    # grade batch refuses the same entry
    with pytest.raises(BadEntry, match="symbolic link"):
        read(tmp_path, [EX1, EX3])


def test_a_symlinked_submission_or_zip_member_is_refused(tmp_path):
    os.symlink(SOLUTIONS, tmp_path / "mine")
    with pytest.raises(BadEntry, match="symbolic link"):
        read(tmp_path / "mine", [EX1])
    info = zipfile.ZipInfo(f"work/{EX1.file}")
    info.external_attr = 0o120777 << 16
    with zipfile.ZipFile(tmp_path / "s.zip", "w") as z:
        z.writestr(info, str(SOLUTIONS / EX1.file))
    with pytest.raises(BadEntry, match="symbolic link"):
        read(tmp_path / "s.zip", [EX1])


# -- notebooks --------------------------------------------------------------------------------


@pytest.mark.slow
def test_hostile_notebook_is_read_with_clear_notes(tmp_path):
    """Magics, shell escapes, a cell magic, an exercise split over two cells and megabytes of output."""
    src = _solution(EX1)
    head, _, tail = src.partition("def softmax")
    big = new_output("stream", name="stdout", text="x" * (3 << 20))
    cells = [
        new_markdown_cell("My work"),
        new_code_cell("import torch\n!pip install torch\n%matplotlib inline\nfiles = !ls"),
        new_code_cell(f"# exercise 1\n{head}", outputs=[big]),
        new_code_cell(f"def softmax{tail}\n%timeit softmax(torch.randn(3, 4))", metadata={"tags": ["exercise1"]}),
        new_code_cell("%%bash\nrm -rf /", metadata={"tags": ["exercise1"]}),
    ]
    nbformat.write(_notebook(cells), str(tmp_path / "work.ipynb"))
    assert (tmp_path / "work.ipynb").stat().st_size > 3 << 20
    out = tmp_path / "r.json"
    r = run_cli("1", "--submission", tmp_path / "work.ipynb", "--output", out, timeout=300)
    assert r.returncode == 0, r.stderr + r.stdout
    report = json.loads(out.read_text())
    assert report["score"] == 10.0
    notes = "\n".join(report["notes"])
    for removed in ("!pip install torch", "%matplotlib inline", "files = !ls", "%timeit", "%%bash"):
        assert removed in notes, notes
    assert "removed from submissions" in notes
    text = run_cli("1", "--submission", tmp_path / "work.ipynb", timeout=300).stdout
    assert "note:" in text and "!pip install torch" in text


@pytest.mark.slow
@pytest.mark.parametrize(
    "content, needle",
    [
        (b'{"cells": [ {"cell_type": "code", ', "not valid JSON"),
        (b'{"cells": 3, "metadata": {}}', "not a valid notebook"),
        (b"\xff\xfe garbage", "not UTF-8"),
    ],
)
def test_broken_notebook_gets_a_message_and_a_score(tmp_path, content, needle):
    (tmp_path / "work.ipynb").write_bytes(content)
    out = tmp_path / "r.json"
    r = run_cli("1", "3", "--submission", tmp_path / "work.ipynb", "--output", out, timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    report = json.loads(out.read_text())
    assert report["score"] == 0.0
    for ex in report["exercises"]:
        assert ex["score"] == 0.0 and needle in ex["message"]


def test_unmarked_notebook_says_how_to_mark_a_cell(tmp_path):
    nbformat.write(_notebook([new_code_cell(_solution(EX1))]), str(tmp_path / "work.ipynb"))
    sub = read(tmp_path / "work.ipynb", [EX1])
    assert not sub.files and "tag the cell `exercise1`" in sub.refused[EX1.file]


@pytest.mark.slow
def test_batch_grades_notebook_entries(tmp_path):
    from grader.batch.entries import scan

    subs = tmp_path / "subs"
    (subs / "bob").mkdir(parents=True)
    nb = _notebook([new_code_cell(f"%%exercise {ex.number}\n" + _solution(ex)) for ex in EXERCISES])
    nbformat.write(nb, str(subs / "ann.ipynb"))
    nbformat.write(nb, str(subs / "bob" / "course.ipynb"))  # a folder holding a notebook
    (subs / "carl.ipynb").write_text("{ not json")
    entries = {e.student: e for e in scan(subs, EXERCISES)}
    assert set(entries["ann"].files) == {ex.file for ex in EXERCISES} and not entries["ann"].error
    assert entries["bob"].files == entries["ann"].files
    assert "not valid JSON" in entries["carl"].error


def test_a_linked_folder_inside_the_submission_is_not_entered(tmp_path):
    (tmp_path / "notes.py").write_text("x = 1\n")
    os.symlink(SOLUTIONS, tmp_path / "work")  # a nested "folder" that is the model answers
    sub = read(tmp_path, EXERCISES, strict=False)
    assert sub.files == {} and not sub.refused


# -- a notebook's report names its cells ------------------------------------------------------


def _located_notebook(path):
    """Cell 3: exercise 1 with a forbidden call on its line 6 and a bug (a visible test's reproducer);
    cell 4: exercise 2 with a syntax error on its line 5; cell 5: exercise 3's stub (`raise` on its line 39)."""
    cells = [
        new_markdown_cell("My work"),
        new_code_cell("import torch\nimport math"),
        new_code_cell(
            "%%exercise 1\nimport torch\n\n\ndef softmax(x):\n    e = x.exp() + 0 * torch.softmax(x, -1)\n"
            "    return e / e.sum()\n"
        ),
        new_code_cell("%%exercise 2\nimport torch\n\ndef log_softmax(x):\n    return x +* 2\n"),
        new_code_cell("%%exercise 3\n" + (ROOT / "exercises" / lookup("3").file).read_text()),
    ]
    nbformat.write(_notebook(cells), str(path))
    return path


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            if k != "file":
                yield from _strings(v)


def test_notebook_origins_map_each_line_to_its_cell(tmp_path):
    nb = _located_notebook(tmp_path / "w.ipynb")
    sub = read(nb, [EX1, lookup("2")])
    code = sub.files[EX1.file].decode().splitlines()
    lines = sub.origins[EX1.file]["lines"]
    assert code[lines.index([3, 6])].strip().startswith("e = x.exp()")
    assert code[lines.index([2, 2])] == "import math"  # an unmarked cell's import, from its cell
    assert sub.origins[EX1.file]["notebook"] == "w.ipynb" and sub.origins[EX1.file]["cells"] == [3]


@pytest.mark.slow
def test_notebook_report_names_the_cell_and_its_line(tmp_path):
    """QA: a notebook's report said `exercise2_log_softmax.py, line 8`, a file the student never had."""
    nb = _located_notebook(tmp_path / "w.ipynb")
    out = tmp_path / "r.json"
    r = run_cli("1", "2", "3", "--submission", nb, "--output", out, timeout=300)
    assert "Traceback" not in r.stderr, r.stderr
    report = json.loads(out.read_text())
    ex1, ex2, ex3 = (exercise_of(report, f"exercise{n}") for n in (1, 2, 3))
    assert ex2["message"].startswith("w.ipynb, cell 4, line 5: SyntaxError"), ex2["message"]
    assert "Run that cell" in ex2["hint"] and "python " not in ex2["hint"]
    forbidden = next(t for t in ex1["tests"] if t.get("kind") == "forbidden")
    assert forbidden["message"].startswith("w.ipynb, cell 3, line 6 uses `torch.softmax`"), forbidden["message"]
    stub = ex3["tests"][0]
    assert "at w.ipynb, cell 5, line 39: raise NotImplementedError" in stub["message"], stub["message"]
    assert "in cell 5 of w.ipynb" in stub["hint"]
    for ex in (ex1, ex2, ex3):
        assert ex["notebook"]["name"] == "w.ipynb"
        for text in _strings(ex):
            assert ex["file"] not in text and ex["file"][:-3] not in text, text
    # a reproducer is pasted into a new cell, where softmax is defined: no import of a file
    bug = tmp_path / "bug.ipynb"
    nbformat.write(
        _notebook(
            [new_code_cell("%%exercise 1\nimport torch\n\ndef softmax(x):\n    e = x.exp()\n    return e / e.sum()\n")]
        ),
        str(bug),
    )
    text = run_cli("1", "--submission", bug, timeout=300).stdout
    assert "Try it yourself (paste into a new cell below your exercise cell)" in text, text
    assert "from exercise1_softmax import" not in text and "folder that holds" not in text


@pytest.mark.slow
def test_batch_notebook_report_names_the_cell(tmp_path):
    from tests.batch.test_batch import COMMON, batch

    subs = tmp_path / "subs"
    subs.mkdir()
    _located_notebook(subs / "ann.ipynb")
    r = batch(subs, "--out", tmp_path / "out", *COMMON)
    assert r.returncode in (0, 1), r.stderr
    report = json.loads((tmp_path / "out" / "reports" / "ann.json").read_text())
    assert exercise_of(report, "exercise2")["message"].startswith("ann.ipynb, cell 4, line 5: SyntaxError")
