"""The release's student README, followed as a student would: a fresh virtual environment, as a
non-root user, the release's package installed as a regular package, then each check command of
the README.  The instructor's page is there too.  And what it says is true: the Python the
student package declares, and a course's count of files (one file, not "1 files")."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, run_cli

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


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


@pytest.mark.slow  # the student README followed step by step in a fresh venv, as a non-root user
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


# ---------------------------------------------------------------------------
# what the README says


def _course(tmp_path, topics):
    from grader.course import parse

    entries = [{"topic": t, "title": t.replace("_", " ").capitalize(), "names": [t]} for t in topics]
    return parse(tmp_path / "course.toml", {"title": "A course", "exercise": entries})


def test_the_readme_asks_for_the_python_the_student_package_declares(monkeypatch):
    from grader.commands import release
    from grader.course import builtin

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert release._requires_python() == declared == ">=3.10"
    package = tomllib.loads(release.PYPROJECT.format(version="0", deps="[]", requires_python=declared))
    assert package["project"]["requires-python"] == declared
    readme = release.student_readme(builtin())
    assert "Python 3.10 or newer. In this folder" in readme
    assert "3.11" not in readme
    monkeypatch.setattr(release, "_requires_python", lambda: ">=3.12")  # derived, not written in
    assert "Python 3.12 or newer. In this folder" in release.student_readme(builtin())
    assert release.python_text(">=3.10,<3.14") == "Python >=3.10,<3.14"


def test_the_readme_counts_one_file_in_the_singular(tmp_path):
    from grader.commands.release import student_readme

    one = student_readme(_course(tmp_path, ["layer_norm"]))
    assert "- `exercises/`: 1 file, `exercise1_layer_norm.py`. Each" in one
    assert "upload your file `exercise1_layer_norm.py` (or" in one
    assert "keeping its name." in one and "upload the same file to the assignment (drag it in" in one
    assert not re.search(r"\b1 files\b|your 1 ", one)
    two = student_readme(_course(tmp_path, ["layer_norm", "conv2d"]))
    assert "- `exercises/`: 2 files, `exercise1_layer_norm.py` … `exercise2_conv2d.py`. Each" in two
    assert "upload your 2 `exercise*_*.py` files (or" in two and "keeping their names." in two


def test_the_instructor_page_of_a_course_names_its_folder_in_each_command(tmp_path):
    """Without --course, grade autograder and grade batch grade the built-in nine: a course's
    INSTRUCTOR.md gives its folder to each, and its imports are the course's list."""
    from grader.commands.release import instructor_page
    from grader.commands.release_docs import INSTRUCTOR_PAGE
    from grader.course import builtin, parse

    assert instructor_page(builtin(), "0.1") == INSTRUCTOR_PAGE.format(title=builtin().title, version="0.1")
    course = tmp_path / "dl2"
    page = instructor_page(_course(course, ["gelu"]), "0.1")
    assert "`grade autograder --course dl2 --out autograder.zip`\n  builds from your course folder, `dl2`" in page
    assert "`grade batch SUBMISSIONS --out DIR --course dl2` (your course folder)." in page
    assert "`grade init-ci --help`, with\n  `--course`" in page and "torch alone: no `imports` file" in page
    assert "checkout" not in page and "grader/verdicts" not in page
    course.mkdir()
    (course / "imports.toml").write_text('allowed = ["torch", "numpy"]\n')
    entries = [{"topic": "gelu", "title": "Gelu", "names": ["gelu"]}]
    allowing = parse(course / "course.toml", {"title": "A course", "imports": "imports.toml", "exercise": entries})
    assert "`imports.toml` in your course folder" in instructor_page(allowing, "0.1")


def test_the_release_counts_its_stubs_and_cases_in_the_singular_when_one():
    from grader.commands.release import _count

    assert [_count(n, "file") for n in (0, 1, 2)] == ["0 files", "1 file", "2 files"]
    assert _count(1, "visible test case") == "1 visible test case"
