"""The release's student README, followed as a student would: a fresh virtual environment, as a
non-root user, the release's package installed as a regular package, then each check command of
the README.  The instructor's page is there too."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_cli

# Slow by design: the student README followed step by step in a fresh venv, as a non-root user.
pytestmark = pytest.mark.slow


def _blocks(text: str) -> list:
    """The README's ```sh blocks, each a list of commands."""
    return [[ln for ln in b.strip().splitlines() if ln.strip()] for b in re.findall(r"```sh\n(.*?)```", text, re.S)]


def _here(command: str) -> str:
    """A README command as this machine runs it: torch comes from the system's site-packages (no
    network here, and the same CPU torch the README installs); pip installs without the network."""
    if command.startswith("python3 -m venv "):  # this test's Python, whose site-packages hold torch
        return sys.executable + command.removeprefix("python3") + " --system-site-packages --without-pip"
    if command.startswith("pip install torch"):
        return "python -c 'import torch'  # " + command
    if command.startswith("pip install "):
        return "python -m pip install -q --no-cache-dir --no-deps --no-build-isolation " + command.removeprefix(
            "pip install "
        )
    return command


def test_student_readme_followed_in_a_fresh_venv_as_a_non_root_user(tmp_path_factory):
    base = tmp_path_factory.mktemp("readme")
    os.chmod(base, 0o777)
    release = base / "course"
    r = run_cli("release", "--out", release, timeout=300)
    assert r.returncode == 0, r.stderr
    readme = (release / "README.md").read_text()
    instructor = (release / "INSTRUCTOR.md").read_text()
    assert "grade autograder" in instructor and "grade init-ci" in instructor and "grade batch" in instructor
    for part in (
        "pip install torch --index-url https://download.pytorch.org/whl/cpu",
        "course.ipynb",
        "Canvas",
        "Gradescope",
        "GitHub Classroom",
        "the hidden tests decide the grade",
        "standard library and torch",
        "GRADER_NO_SERVER=1",
    ):
        assert part in readme, part
    install, check = _blocks(readme)
    assert install[0].startswith("python3 -m venv") and install[-1] == "pip install ./package"
    script = ["set -e", f"cd {release}", "export HOME=" + str(base), "export GRADER_NO_SERVER=1", "unset PYTHONPATH"]
    script += [_here(c) for c in install]
    script += ["python -c \"import grader, grader.edition as e; print('edition', e.EDITION, grader.__file__)\""]
    for c in check:  # each check: its exit status (1: a check failed, as on the stubs) and output
        script += [f"echo '$ {c}'", f"{c} > out.txt 2>&1 && echo rc=0 || echo rc=$?", "cat out.txt"]
    subprocess.run(["chmod", "-R", "a+rwX", str(base)], check=True)
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("setpriv (util-linux) is needed to follow the README as another user")
        prefix = [sys.executable, str(ROOT / "tests" / "as_user.py"), sys.base_prefix, sys.prefix, str(base), "--"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(str(ROOT)))
    r = subprocess.run(
        [*prefix, "bash", "-c", "\n".join(script)], capture_output=True, text=True, env=env, timeout=1200, cwd=base
    )
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    assert f"edition student {release}/.venv/" in out, out  # the release's package, in the README's venv
    for c in check:
        section = out[out.index(f"$ {c}") :]
        assert "rc=1" in section.splitlines()[1], section[:2000]  # the released stubs: a check fails
        assert "Traceback" not in section.split("$ ", 2)[1]
        assert "visible checks passed; the hidden tests decide the grade" in section.split("\n$ ")[0], section[:2000]
