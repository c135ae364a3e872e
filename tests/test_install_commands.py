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
    assert "student_text(" in source and "TORCH_CPU" in source  # printed, and in the package's README
    assert CPU in TORCH_CPU


def run_setup_sh(tmp_path, env: dict, python_ok: bool = True) -> list:
    """The bundle's setup.sh run with python3 and apt-get replaced by stubs that log their
    arguments (python3's own checks fail where not ``python_ok``); returns the logged calls."""
    import os
    import subprocess

    from grader.formats.autograder import MEASURED, SETUP_SH

    stubs, log = tmp_path / "stubs", tmp_path / "calls"
    stubs.mkdir()
    (stubs / "python3").write_text(f"""#!/bin/sh
echo "python3 $*" >> '{log}'
case "$1 $2" in "-c "*|"-m --version") exit {0 if python_ok else 1};; esac
case "$*" in "-m pip --version") exit {0 if python_ok else 1};; esac
exit 0
""")
    (stubs / "apt-get").write_text(f"#!/bin/sh\necho \"apt-get $*\" >> '{log}'\n")
    for f in stubs.iterdir():
        f.chmod(0o755)
    (tmp_path / "setup.sh").write_text(SETUP_SH.format(measured=MEASURED))
    base = {k: v for k, v in os.environ.items() if k not in ("AUTOGRADER_ROOT", "NNGRADE_TORCH_INDEX")}
    r = subprocess.run(
        ["bash", str(tmp_path / "setup.sh")],
        env=dict(base, PATH=f"{stubs}:/usr/bin:/bin", **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return log.read_text().splitlines()


def test_setup_sh_installs_cpu_torch_then_the_course_with_numpy(tmp_path):
    from grader.formats.autograder import MEASURED, SETUP_SH

    calls = run_setup_sh(tmp_path, {})
    pips = [c for c in calls if c.startswith("python3 -m pip install")]
    assert pips[1] == f"python3 -m pip install {CPU} torch torchvision"
    assert pips[2] == "python3 -m pip install numpy /autograder/source"  # after torch, with numpy
    assert not any(c.startswith("apt-get") for c in calls)  # python3, its pip and venv are there
    assert "1.5 GB" not in SETUP_SH.format(measured=MEASURED)  # the measured figure: the default 768 MB is enough


def test_setup_sh_in_another_root_with_another_torch_index(tmp_path):
    (tmp_path / "a").mkdir()
    calls = run_setup_sh(tmp_path / "a", {"AUTOGRADER_ROOT": "/tmp/ag x", "NNGRADE_TORCH_INDEX": "https://mirror/cpu"})
    assert "python3 -m pip install --index-url https://mirror/cpu torch torchvision" in calls
    assert "python3 -m pip install numpy /tmp/ag x/source" in calls
    (tmp_path / "b").mkdir()
    calls = run_setup_sh(tmp_path / "b", {"NNGRADE_TORCH_INDEX": ""})  # set and empty: pip's own index
    assert "python3 -m pip install torch torchvision" in calls


def test_setup_sh_installs_python_from_apt_where_it_is_missing(tmp_path):
    calls = run_setup_sh(tmp_path, {}, python_ok=False)
    assert "apt-get install -y -q python3 python3-pip python3-venv" in calls
    assert (
        calls.index("apt-get update -q")
        < calls.index("apt-get install -y -q python3 python3-pip python3-venv")
        < calls.index(f"python3 -m pip install {CPU} torch torchvision")
    )


def test_the_install_page_gives_the_cpu_command_first():
    page = (ROOT / "docs" / "install.md").read_text()
    assert page.index(CPU) < page.index("pip install torch                  # on Linux")
