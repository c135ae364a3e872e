"""How to install torch: the CPU-only wheel first (about 200 MB, what grading needs; the
default wheel on Linux carries CUDA, several GB), the GPU one beside it; and what nngrade itself
requires.  Standard library only at import: ``grade release`` and ``grade autograder`` print and
write these lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # a checkout's root (a regular install: site-packages)
EXTRA = re.compile(r";.*\bextra\s*==")  # a Requires-Dist of an extra (cluster, dev): not grading's

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_CPU = f"pip install torch --index-url {CPU_INDEX}"
TORCH_GPU = "pip install torch"  # on Linux PyPI's default wheel is the CUDA one
NUMPY = "pip install numpy"  # torch warns at import without it


def student_text(package: str) -> str:
    """The install instructions, as lines of text (CPU first, the GPU alternative beside it)."""
    return (
        f"  {TORCH_CPU}      (CPU-only torch: enough for every exercise)\n"
        f"  pip install {package}      (grade, with numpy and the rest)\n"
        f"  with an NVIDIA GPU, instead of the first line: {TORCH_GPU}  (the CUDA wheel, several GB)\n"
    )


def project_metadata() -> dict:
    """nngrade's ``version``, ``requires-python`` and ``dependencies`` (its extras' left out), each
    requirement in packaging's canonical form: from the checkout's pyproject.toml when the code runs
    from one (an editable install's metadata may be older than the file), else from the installed
    distribution's metadata (a regular install has no pyproject.toml)."""
    from packaging.requirements import Requirement

    from grader import __version__

    project = _project(ROOT)
    if project and project.get("name") == "nngrade":
        python, requires = project["requires-python"], project["dependencies"]
    else:
        from importlib import metadata

        dist = metadata.distribution("nngrade")
        python = dist.metadata["Requires-Python"]
        requires = [r for r in dist.requires or [] if not EXTRA.search(r)]
    deps = [str(Requirement(r)) for r in requires]
    return {"version": __version__, "requires-python": python, "dependencies": deps}


def _project(folder: Path) -> dict | None:
    """The [project] table of ``folder``'s pyproject.toml, or None when there is none."""
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return None
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    with open(pyproject, "rb") as f:
        return tomllib.load(f).get("project", {})


def is_checkout(folder: Path) -> bool:
    """Whether ``folder`` is an nngrade checkout (its pyproject.toml is nngrade's), which `pip install .`
    installs: what the instructor's Classroom workflow runs in the private repository by default."""
    try:
        project = _project(folder)
    except (OSError, ValueError):
        return False
    return project is not None and project.get("name") == "nngrade"


def pyproject_template(name: str, include: list, package_data: list, description: str = "") -> str:
    """A pyproject.toml for a package of the grader's modules and its ``grade`` command, with
    ``{version}``, ``{requires_python}`` and ``{deps}`` left to fill: the student edition's
    (``grade release``), and nngrade's own in a Gradescope bundle built from an install."""
    about = f"description = {json.dumps(description)}\n" if description else ""
    return (
        '[build-system]\nrequires = ["setuptools>=70.1"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "{{version}}"\n{about}'
        'requires-python = "{requires_python}"\ndependencies = {deps}\n\n'
        '[project.scripts]\ngrade = "grader.cli:entry"\n\n'
        f"[tool.setuptools.packages.find]\ninclude = {json.dumps(include)}\n\n"
        f"[tool.setuptools.package-data]\ngrader = {json.dumps(package_data)}\n"
    )
