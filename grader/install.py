"""How to install torch: the CPU-only wheel first (about 200 MB, what grading needs; the
default wheel on Linux carries CUDA, several GB), the GPU one beside it; and what nngrade itself
requires.  Standard library only at import: ``grade release`` and ``grade autograder`` print and
write these lines."""

from __future__ import annotations

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

    pyproject = ROOT / "pyproject.toml"
    project = None
    if pyproject.is_file():
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib
        with open(pyproject, "rb") as f:
            project = tomllib.load(f).get("project", {})
    if project and project.get("name") == "nngrade":
        python, requires = project["requires-python"], project["dependencies"]
    else:
        from importlib import metadata

        dist = metadata.distribution("nngrade")
        python = dist.metadata["Requires-Python"]
        requires = [r for r in dist.requires or [] if not EXTRA.search(r)]
    deps = [str(Requirement(r)) for r in requires]
    return {"version": __version__, "requires-python": python, "dependencies": deps}
