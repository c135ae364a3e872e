"""Printing past the output cap is cut (the head and the tail kept, a note in the report),
never a failed test."""

import ast
import json
import os

import pytest

from grader.untrusted.output import HEAD, Sink, cut_bytes
from tests.conftest import ROOT, run_cli


def test_sink_keeps_head_and_tail_and_never_fails(tmp_path):
    path = tmp_path / "output.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        sink = Sink(fd, head=100, tail=10)
        assert sink.write(b"a" * 60) == 60
        assert sink.write(b"b" * 60 + b"0123456789") == 70
        sink.flush_tail()
        assert sink.write(b"end") == 3
        sink.flush_tail()
    finally:
        os.close(fd)
    data = path.read_bytes()
    assert data.startswith(b"a" * 60 + b"b" * 40)
    assert data.endswith(b"456789end") and b"33 bytes of output cut here" in data
    assert len(data) < 100 + 200


def test_cut_is_read_back(tmp_path):
    path = tmp_path / "output.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        sink = Sink(fd)
        sink.write(b"x" * (HEAD + 5000))
        sink.flush_tail()
    finally:
        os.close(fd)
    assert cut_bytes(path) == 5000
    assert cut_bytes(tmp_path / "none.txt") == 0


def _printing_copy(src, dst, size=1_500_000):
    """The model answer with a debug print of ``size`` characters first in every function."""
    lines = src.read_text().splitlines()
    inserts = []
    for node in ast.walk(ast.parse(src.read_text())):
        if isinstance(node, ast.FunctionDef):
            first = node.body[0]
            inserts.append((first.lineno - 1, " " * first.col_offset + f'print("x" * {size})'))
    for at, text in sorted(inserts, reverse=True):
        lines.insert(at, text)
    dst.write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_model_answers_that_print_megabytes_score_full(tmp_path):
    for name in ("exercise1_softmax.py", "exercise5_relu.py"):
        _printing_copy(ROOT / "solutions" / name, tmp_path / name)
    out = tmp_path / "report.json"
    r = run_cli("1", "5", "--submission", tmp_path, "--no-server", "--output", out, timeout=600)
    report = json.loads(out.read_text())
    assert r.returncode == 0 and report["score"] == report["max_score"] == 20, r.stderr
    notes = report.get("notes", [])
    for ex in ("exercise1", "exercise5"):
        assert any(n.startswith(f"{ex}: your code printed more than the grader keeps") for n in notes), notes
