"""What students' code may import is the course's list (grader/verdicts/imports.toml), enforced
in the worker for every entry point, whatever the machine has installed; the hint states it."""

import importlib.util
import json

import pytest

from grader.verdicts.forbidden import allowed_imports, imports_hint
from tests.conftest import run_cli

SOFTMAX = """import torch


def softmax(x):
    {inner}z = x - x.max(dim=-1, keepdim=True).values
    return torch.exp(z) / torch.exp(z).sum(dim=-1, keepdim=True)
"""


def test_the_list_is_declared_once_and_stated_in_the_hint():
    assert allowed_imports() == ("torch",)
    assert "the Python standard library and torch" in imports_hint()


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("numpy") is None, reason="needs numpy installed to show it is refused")
def test_installed_or_not_the_same_verdict(tmp_path):
    """numpy is installed here (torch brings it) and refused all the same, as a package that is not."""
    reports = {}
    for name in ("numpy", "no_such_package_here"):
        for where, text in (
            ("top", f"import {name}\n" + SOFTMAX.format(inner="")),
            ("call", SOFTMAX.format(inner=f"import {name}\n    ")),
        ):
            folder = tmp_path / f"{name}-{where}"
            folder.mkdir()
            (folder / "exercise1_softmax.py").write_text(text)
            out = folder / "r.json"
            r = run_cli("1", "--submission", folder, "--no-server", "--output", out, timeout=300)
            assert r.returncode == 1, r.stderr
            reports[name, where] = json.loads(out.read_text())["exercises"][0]
    for where in ("top", "call"):
        a, b = reports["numpy", where], reports["no_such_package_here", where]
        assert a["score"] == b["score"] == 0.0
        hints = {t["hint"] for t in a["tests"]} | {a["hint"]} - {""}
        assert imports_hint() in hints, hints
        assert a["status"] == b["status"]
    assert "numpy is not on the course's list of imports" in reports["numpy", "top"]["message"]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("numpy") is None, reason="needs numpy for tensor.numpy()")
def test_torch_importing_on_its_own_behalf_is_not_the_students_import(tmp_path):
    """`tensor.numpy()` makes torch's C code import numpy's modules from inside the student's
    function: that import is torch's, not the student's, and passes; the student's own
    `import numpy` in the same file is refused."""
    body = "t = torch.tensor([1.0, 2.0], dtype=torch.float64)\n    assert float(t.numpy().mean()) == 1.5\n    "
    for name, extra, expected in (("torch-only", "", 10.0), ("own-import", "import numpy\n", 0.0)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "exercise1_softmax.py").write_text(extra + SOFTMAX.format(inner=body))
        out = folder / "r.json"
        run_cli("1", "--submission", folder, "--no-server", "--output", out, timeout=300)
        assert json.loads(out.read_text())["score"] == expected, (name, out.read_text()[:2000])
