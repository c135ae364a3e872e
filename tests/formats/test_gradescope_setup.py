"""Gradescope's own sequence on the Python of its default image: the bundle's ``setup.sh``,
as Gradescope runs it once when it builds the image, then ``run_autograder`` for each
submission, in a fake ``/autograder`` root (``AUTOGRADER_ROOT``) with Python 3.10 as ``python3``.

Gradescope's side, from gradescope/autograder_samples@af5dee4cf9b2: ``docs/specs.md`` (the zip
unpacked to /autograder/source, ``setup.sh`` run to build the image, ``run_autograder`` run per
submission with the upload in /autograder/submission, results read from
/autograder/results/results.json) and ``docs/base_images.md`` (the default image is Ubuntu
22.04, whose ``python3`` is 3.10, and ``setup.sh`` runs as root).

Here ``python3`` is a fresh venv of Python 3.10, first on PATH: ``setup.sh`` installs into it
as it installs into the image's ``python3``.  ``apt-get`` is a stub that fails and leaves a
mark: python3, its pip and its venv are there, so ``setup.sh`` must not call it (and a test never
installs system packages).  Torch comes from ``NNGRADE_TORCH_INDEX`` (or ``SMOKE_TORCH_INDEX``)
where set, else from pip's configured index: ``setup.sh``'s own default, the CPU-only index at
download.pytorch.org, is not reachable from CI.  A few minutes, most of them installing torch.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli
from tests.formats.test_consumers import GRADESCOPE_SCHEMA
from tests.formats.test_platforms import check_gradescope

# Slow by design: each test builds Gradescope's image (a fresh venv, an install of torch and the course).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

SOLUTIONS = ROOT / "solutions"
EX1, EX3 = "exercise1_softmax.py", "exercise3_cross_entropy.py"
BUGGY_CE = (
    "import torch\n\ndef cross_entropy(logits, targets):\n"
    "    lp = logits - logits.logsumexp(-1, keepdim=True)\n    return -lp[:, targets].mean()\n\n"
    "class CrossEntropyLoss(torch.nn.Module):\n    def forward(self, h, y):\n        return cross_entropy(h, y)\n"
)
HOW_TO_GET = (
    "no Python 3.10 found: `pyenv install 3.10.13` (the test looks in "
    "$PYENV_ROOT/versions/3.10.*), or set SMOKE_PYTHON_310 to a python3.10"
)


def _is_310(python: str) -> bool:
    try:
        r = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except OSError:
        return False
    return r.stdout.strip() == "True"


def python_310() -> str | None:
    """SMOKE_PYTHON_310 (as .ci/smoke-pythons), else python3.10 on PATH, else pyenv's 3.10."""
    override = os.environ.get("SMOKE_PYTHON_310")
    if override:
        return override
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = [shutil.which("python3.10")] + sorted(str(p) for p in pyenv.glob("3.10.*/bin/python3"))
    return next((c for c in candidates if c and _is_310(c)), None)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    """The bundle unpacked in a fake /autograder and its setup.sh run: (root, env of the container)."""
    python = python_310()
    if python is None:
        pytest.skip(HOW_TO_GET)
    work = tmp_path_factory.mktemp("gradescope")
    bundle = work / "autograder.zip"
    r = run_cli("autograder", "--out", bundle)
    assert r.returncode == 0, r.stderr
    root = work / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(bundle) as z:
        z.extractall(root / "source")
        for info in z.infolist():  # the modes in the zip, as unzip keeps them (zipfile drops them)
            (root / "source" / info.filename).chmod((info.external_attr >> 16) & 0o777)
    venv = work / "python3"
    subprocess.run([python, "-m", "venv", str(venv)], check=True, timeout=300)
    stubs = work / "stubs"
    stubs.mkdir()
    (stubs / "apt-get").write_text(f"#!/bin/sh\necho \"$*\" >> '{work / 'apt-get-called'}'\nexit 97\n")
    (stubs / "apt-get").chmod(0o755)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYENV_VERSION", "AUTOGRADER_ROOT")
    }
    env.update(
        PATH=os.pathsep.join([str(venv / "bin"), str(stubs), "/usr/local/bin", "/usr/bin", "/bin"]),
        AUTOGRADER_ROOT=str(root),
    )
    env["NNGRADE_TORCH_INDEX"] = os.environ.get("NNGRADE_TORCH_INDEX", os.environ.get("SMOKE_TORCH_INDEX", ""))
    # Gradescope: `cd /autograder/source && ./setup.sh` as root
    r = subprocess.run(["./setup.sh"], cwd=root / "source", env=env, capture_output=True, text=True, timeout=2000)
    assert not (work / "apt-get-called").exists(), "setup.sh called apt-get although python3, pip and venv are there"
    assert r.returncode == 0, f"setup.sh failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    (root / "submission").mkdir()
    return root, env


def run_autograder(image, files: dict) -> dict:
    """One submission, as Gradescope runs it: the upload in submission/, then run_autograder."""
    root, env = image
    for d in ("submission", "results"):
        shutil.rmtree(root / d, ignore_errors=True)
        (root / d).mkdir()
    for name, text in files.items():
        (root / "submission" / name).write_text(text)
    r = subprocess.run(
        [str(root / "source" / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=1200
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads((root / "results" / "results.json").read_text())
    import jsonschema

    jsonschema.validate(doc, GRADESCOPE_SCHEMA)  # Gradescope's documented format
    check_gradescope(doc)
    assert doc["extra_data"].get("grader_failed") is not True, doc["output"]
    # the score is the sum of the tests' points, to the hundredth (tests/formats/test_consumers.py)
    assert round(sum(t["score"] for t in doc["tests"]) * 100) == round(doc["score"] * 100)
    return doc


def test_setup_sh_installs_the_course_and_cpu_torch_for_python_310(image):
    root, env = image
    r = subprocess.run(
        ["python3", "-c", "import sys, torch, numpy, grader; print(sys.version_info[:2], grader.__file__)"],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    version, where = r.stdout.split(") ", 1)
    assert version == "(3, 10"
    assert "site-packages" in where and str(root) not in where  # the course pip installed, not the source tree


def test_run_autograder_on_a_submission_that_loses_points(image):
    doc = run_autograder(image, {EX1: (SOLUTIONS / EX1).read_text(), EX3: BUGGY_CE})
    assert 10.0 < doc["score"] < 20.0
    tests = {t["number"]: t for t in doc["tests"]}
    assert tests and all(t["status"] == "passed" for n, t in tests.items() if n.startswith("1."))
    failed = [t for n, t in tests.items() if n.startswith("3.") and t["status"] == "failed"]
    assert failed and all(t["score"] < t["max_score"] for t in failed)
    assert all(t["output"].strip() for t in doc["tests"] if t["status"] == "failed")  # every lost point explained
    assert any("logsumexp" in t["output"] or "picks an (n, n) block" in t["output"] for t in failed)


def test_run_autograder_on_the_model_answers(image):
    files = {p.name: p.read_text() for p in sorted(SOLUTIONS.glob("exercise*.py"))}
    doc = run_autograder(image, files)
    assert doc["score"] == 90.0, doc["output"]
    assert doc["tests"] and all(t["status"] == "passed" and t["score"] == t["max_score"] for t in doc["tests"])
    assert round(sum(t["max_score"] for t in doc["tests"]) * 100) == 9000
