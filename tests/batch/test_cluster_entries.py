"""`grade batch --scheduler`: every kind of entry (a folder, a zip, a single .py, a notebook
with its notes and cells, a folder holding a notebook, bad entries) gives the same files as
the local batch, byte for byte: reports, gradebooks and what each state row says of the student."""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tests.batch.test_batch import EX1, EX2, SOLUTIONS, bad_entries, batch, normal_class

# Slow by design: one class of every kind of entry, graded on a local Dask cluster and by the local batch.
pytestmark = pytest.mark.slow

SECRET = "cluster-entries-secret"
COMMON = ["--exercises", "1", "2", "--seed-secret", SECRET, "--timeout-scale", "0.3"]
TIMING = ("elapsed", "worker", "finished", "started", "cost", "pid", "host")


def _notebook(path, magic: bool):
    cells = [new_markdown_cell("my work"), new_code_cell("import torch")]
    for ex, number in ((EX1, 1), (EX2, 2)):
        code = (SOLUTIONS / ex).read_text()
        if magic:  # a shell escape in a cell: removed, and the report's notes say so
            code = "!pip list\n" + code
        cells.append(new_code_cell(f"%%exercise {number}\n" + code))
    nb = new_notebook()
    nb.cells = cells
    nbformat.validate(nb)
    nbformat.write(nb, str(path))


def test_every_kind_of_entry_gives_the_same_files_on_a_cluster(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    graded = normal_class(subs)  # a folder, a zip, a single .py
    _notebook(subs / "dan.ipynb", magic=True)  # a notebook: "notebook" cells, notes
    (subs / "eve").mkdir()
    _notebook(subs / "eve" / "course.ipynb", magic=False)  # a folder holding a notebook
    graded += ["dan", "eve"]
    bad = bad_entries(subs)
    local = batch(subs, "--out", tmp_path / "local", *COMMON, "--jobs", "2")
    assert local.returncode == 1, local.stderr
    r = batch(subs, "--out", tmp_path / "dask", *COMMON, "--scheduler", "local:2", timeout=300)
    assert r.returncode == 1, r.stderr
    dan = json.loads((tmp_path / "local" / "reports" / "dan.json").read_text())
    assert all("notebook" in ex for ex in dan["exercises"]) and dan.get("notes"), "the case must have them"
    for name in ("grades.csv", "results.csv"):
        assert (tmp_path / "local" / name).read_bytes() == (tmp_path / "dask" / name).read_bytes(), name
    reports = sorted(p.name for p in (tmp_path / "local" / "reports").iterdir())
    assert reports == sorted(f"{s}.{e}" for s in graded for e in ("json", "html"))
    assert sorted(p.name for p in (tmp_path / "dask" / "reports").iterdir()) == reports
    for name in reports:
        a = (tmp_path / "local" / "reports" / name).read_bytes()
        b = (tmp_path / "dask" / "reports" / name).read_bytes()
        assert a == b, name
    for student in graded + [s.replace("\\xe9", "\udce9") for s in bad]:
        paths = [tmp_path / d / ".batch" / "state" / f"{student}.json" for d in ("local", "dask")]
        if not paths[0].exists():
            continue
        rows = [json.loads(p.read_text()) for p in paths]
        for row in rows:
            for k in TIMING:
                row.pop(k, None)
        assert rows[0] == rows[1], student
