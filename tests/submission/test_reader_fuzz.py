"""Every submission reader, fuzzed: whatever a student hands in, the reader gives the
exercise files or a bad-entry message about that entry alone, never an exception of its own.

The readers are ``grader.submission.reader.read`` on a folder, a ``.py``, a ``.zip`` and an
``.ipynb`` (``grader.submission.notebook``), and the single-file splitter
(``grader.submission.parts``: which part of one file each exercise is judged on).
The two inputs that once killed a whole class's batch (a notebook whose metadata nests
100,000 brackets; a cell holding the escape ``\\ud800``) are among the examples."""

from __future__ import annotations

import ast
import io
import json
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from grader.exercises import EXERCISES, lookup
from grader.submission import parts
from grader.submission.errors import BadEntry
from grader.submission.reader import read

FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
CHOSEN = [lookup("1"), lookup("2"), lookup("3")]
EX1 = lookup("1").file

NOTEBOOK = {
    "cells": [
        {"id": "c1", "cell_type": "markdown", "metadata": {}, "source": "# Exercises"},
        {
            "id": "c2",
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": "import torch\n",
        },
        {
            "id": "c3",
            "cell_type": "code",
            "execution_count": None,
            "metadata": {"tags": ["exercise1"]},
            "outputs": [],
            "source": "def softmax(x):\n    e = (x - x.max(-1, keepdim=True).values).exp()\n"
            "    return e / e.sum(-1, keepdim=True)\n",
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}
NOTEBOOK_TEXT = json.dumps(NOTEBOOK)
DEEP_METADATA = NOTEBOOK_TEXT.replace(
    '"metadata": {"kernelspec"', '"metadata": {"x": ' + "[" * 100_000 + "]" * 100_000 + ', "kernelspec"', 1
)
LONE_SURROGATE = NOTEBOOK_TEXT.replace("return e / e.sum", "return e / e.sum  # \\ud800", 1)
assert "\\ud800" in LONE_SURROGATE and "[" * 100_000 in DEEP_METADATA


def read_one(path: Path, strict: bool = True):
    """The reader's answer: the Submission, or the BadEntry's message. Anything else fails the test."""
    try:
        sub = read(path, CHOSEN, strict)
    except BadEntry as e:
        message = str(e)
        assert message.strip(), "a bad entry needs a reason"
        message.encode("utf-8")  # printable in any report
        return message
    for name, data in sub.files.items():
        assert isinstance(data, bytes), name
    for note in sub.notes + list(sub.refused.values()):
        note.encode("utf-8")
    return sub


def _in_tmp(write):
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        return write(Path(tmp))


def test_the_two_reported_notebooks_are_bad_entries_with_a_reason(tmp_path):
    deep = tmp_path / "deep.ipynb"
    deep.write_text(DEEP_METADATA)
    assert "nested too deeply" in read_one(deep)
    lone = tmp_path / "lone.ipynb"
    lone.write_text(LONE_SURROGATE)
    message = read_one(lone)
    assert "cell 3" in message and "\\ud800" in message, message
    # the same in a folder of notebooks, and read leniently (as `grade` reads)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "work.ipynb").write_text(LONE_SURROGATE)
    assert "\\ud800" in read_one(folder)
    assert "\\ud800" in str(read_one(folder, strict=False))


@FUZZ
@given(st.binary(max_size=3000))
@example(b"\xff\xfe\x00")
@example("def softmax(x):\n    return x  # \ud800\n".encode("utf-8", "surrogatepass"))
def test_py_reader(data):
    def go(d):
        (d / "carol.py").write_bytes(data)
        read_one(d / "carol.py")

    _in_tmp(go)


def _mutations():
    """A valid notebook's text, cut, spliced or given an inserted fragment."""
    fragment = st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            [
                "[" * 5000,
                "{" * 3000,
                '"\\ud800"',
                '"\\udfff"',
                "\\u0000",
                "null",
                "1e999",
                '"tags": 7',
                '"cells": {}',
                '"source": [1, 2]',
                '"nbformat": 3',
                '"cell_type": "code"',
                "\x00",
                "NaN",
            ]
        ),
    )
    return st.tuples(st.integers(0, len(NOTEBOOK_TEXT)), st.integers(0, 50), fragment).map(
        lambda t: NOTEBOOK_TEXT[: t[0]] + t[2] + NOTEBOOK_TEXT[t[0] + t[1] :]
    )


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _notebook_with(value, where: str) -> str:
    nb = json.loads(NOTEBOOK_TEXT)
    if where == "metadata":
        nb["metadata"]["x"] = value
    elif where == "cell":
        nb["cells"][2]["metadata"] = value if isinstance(value, dict) else {"tags": value}
    elif where == "source":
        nb["cells"][2]["source"] = value
    else:
        nb["cells"].append(value)
    return json.dumps(nb)  # lone surrogates in a str become JSON's "\udXXX" escapes


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=2000).map(lambda b: ("bytes", b)),
        _mutations().map(lambda t: ("text", t)),
        st.tuples(JSON_VALUES, st.sampled_from(["metadata", "cell", "source", "cells"])).map(
            lambda t: ("text", _notebook_with(*t))
        ),
        st.text(alphabet=st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=5).map(
            lambda s: ("text", _notebook_with("def softmax(x):\n    return x  # " + s + "\n", "source"))
        ),
        st.integers(1, 120_000).map(
            lambda n: (
                "text",
                NOTEBOOK_TEXT.replace(
                    '"metadata": {"kernelspec"', '"metadata": {"x": ' + "[" * n + "]" * n + ', "kernelspec"', 1
                ),
            )
        ),
    )
)
@example(("text", DEEP_METADATA))
@example(("text", LONE_SURROGATE))
def test_notebook_reader(case):
    kind, content = case

    def go(d):
        path = d / "dave.ipynb"
        if kind == "bytes":
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8", "surrogatepass"))
        read_one(path)
        read_one(path, strict=False)

    _in_tmp(go)


def _zip_bytes(members) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    return buf.getvalue()


VALID_ZIP = _zip_bytes(
    [("exercises/" + EX1, b"def softmax(x):\n    return x.softmax(-1)\n"), ("exercises/notes.txt", b"hello")]
)
MEMBER_NAMES = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30),
    st.sampled_from(
        [
            EX1,
            "a/" + EX1,
            "../" + EX1,
            "/" + EX1,
            "C:/" + EX1,
            "a\\" + EX1,
            "__MACOSX/" + EX1,
            ".hidden/" + EX1,
            "dir/",
            "x.ipynb",
        ]
    ),
)


@pytest.mark.filterwarnings("ignore:Duplicate name")
@FUZZ
@given(
    st.one_of(
        st.binary(max_size=2000).map(lambda b: b"PK\x03\x04" + b),
        st.lists(st.tuples(MEMBER_NAMES, st.binary(max_size=200)), max_size=6).map(_zip_bytes),
        st.tuples(st.integers(0, len(VALID_ZIP) - 1), st.binary(min_size=1, max_size=8)).map(
            lambda t: VALID_ZIP[: t[0]] + t[1] + VALID_ZIP[t[0] + len(t[1]) :]
        ),
        st.integers(0, len(VALID_ZIP)).map(lambda n: VALID_ZIP[:n]),
    )
)
def test_zip_reader(data):
    def go(d):
        (d / "bob.zip").write_bytes(data)
        read_one(d / "bob.zip")

    _in_tmp(go)


FILE_NAMES = st.one_of(
    st.sampled_from([EX1, lookup("2").file, "work.ipynb", "helper.py", "README"]),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=20
    ),
)


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["", "exercises", "a/b", "a/b/c/d/e", ".git", "__MACOSX"]),
            FILE_NAMES,
            st.one_of(
                st.binary(max_size=300),
                st.sampled_from([NOTEBOOK_TEXT.encode(), LONE_SURROGATE.encode(), DEEP_METADATA.encode()]),
            ),
        ),
        max_size=6,
    )
)
def test_folder_reader(files):
    def go(d):
        root = d / "alice"
        root.mkdir()
        for folder, name, data in files:
            if name in (".", ".."):
                continue
            target = root / folder / name
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            except OSError:  # a name this file system refuses (too long, a folder already): not an input
                continue
        read_one(root)
        read_one(root, strict=False)

    _in_tmp(go)


FRAGMENTS = [
    "import torch",
    "import torch.nn.functional as F",
    "from torch import nn",
    "def softmax(x):\n    return torch.softmax(x, -1)",
    "def log_softmax(x):\n    return x - x.exp().sum(-1, keepdim=True).log()",
    "def cross_entropy(z, y):\n    return -log_softmax(z)[range(len(y)), y].mean()",
    "class Linear(nn.Module):\n    def __init__(self, a, b):\n        super().__init__()",
    "x = 1",
    "REG = []",
    "REG.append(softmax)",
    "__name__ = '__main__'",
    "globals()['softmax'] = len",
    "if __name__ == '__main__':\n    softmax = 3",
    "if '__main__' == __name__:\n    pass",
    "@REG.append\ndef helper(x):\n    return softmax(x)",
    "lambda: softmax",
    "del softmax",
    "async def relu(x):\n    return x",
    "softmax = log_softmax = lambda x: x",
    "(" * 90 + "1" + ")" * 90,
    "try:\n    import numpy\nexcept ImportError:\n    pass",
    "for i in range(3):\n    x = i",
    "with open('f') as softmax:\n    pass",
    "class A:\n    softmax = staticmethod(lambda x: x)",
    "a, (b, c) = softmax, (1, 2)",
    "[softmax := 1]",
    "match x:\n    case 1:\n        y = softmax",
]


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12), st.sampled_from(EXERCISES))
def test_single_file_splitter(pieces, exercise):
    source = "\n".join(pieces) + "\n"
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return  # not a file the scans are given (a syntax error is reported before)
    keep, main = parts.split(tree, exercise)
    assert all(isinstance(n, ast.stmt) for n in keep + main)
    parts.executed(tree, exercise)


@pytest.mark.parametrize("depth", [50, 5000])
def test_single_file_splitter_on_deep_expressions(depth):
    # what parses on this Python: every walk is iterative, so no depth overflows the splitter
    source = "def softmax(x):\n    return " + "-" * depth + "x\n"
    try:
        tree = ast.parse(source)
    except (RecursionError, MemoryError, SyntaxError):
        pytest.skip("this Python's parser refuses the depth itself")
    for exercise in EXERCISES:
        parts.executed(tree, exercise)
