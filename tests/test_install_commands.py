"""Where students and Gradescope install torch, the CPU-only wheel comes first (the default
wheel on Linux brings several GB of CUDA), the GPU wheel is named beside it, and numpy is
installed (torch warns at import without it, and the CPU index does not bring it)."""
from __future__ import annotations

import re

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from tests.conftest import ROOT

CPU = "--index-url https://download.pytorch.org/whl/cpu"


def test_numpy_is_a_dependency_of_both_editions():
    from grader.commands import release

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(re.match(r"numpy\b", d) for d in deps)
    assert any(re.match(r"numpy\b", d) for d in release._deps())


def test_the_release_tells_students_the_cpu_wheel_first_and_the_gpu_one_beside_it():
    from grader.install import TORCH_CPU, TORCH_GPU, student_text

    text = student_text("release/package")
    lines = text.splitlines()
    assert CPU in lines[0] and "pip install torch" in lines[0]
    assert "pip install release/package" in lines[1]
    assert TORCH_GPU in lines[2] and "GPU" in lines[2]
    source = (ROOT / "grader" / "commands" / "release.py").read_text()
    assert "student_text(" in source and "TORCH_CPU" in source    # printed, and in the package's README
    assert CPU in TORCH_CPU


def test_setup_sh_installs_cpu_torch_then_the_course_with_numpy():
    from grader.formats.autograder import MEASURED, SETUP_SH

    text = SETUP_SH.format(measured=MEASURED)
    cmds = [ln for ln in text.splitlines() if "pip install" in ln and not ln.startswith("#")]
    torch_line = next(i for i, ln in enumerate(cmds) if "torch" in ln)
    assert CPU in cmds[torch_line]
    course = next(i for i, ln in enumerate(cmds) if "/autograder/source" in ln)
    assert course > torch_line and "numpy" in cmds[course]
    assert "1.5 GB" not in text    # the measured figure: the default 768 MB is enough


def test_the_install_page_gives_the_cpu_command_first():
    page = (ROOT / "docs" / "install.md").read_text()
    assert page.index(CPU) < page.index("pip install torch                  # on Linux")
