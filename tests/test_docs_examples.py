"""The sessions shown in the README and the documentation are real runs, kept true.

A fenced block right after ``<!-- session: course -->`` is a terminal session: each line
starting with ``$ `` is a command, the lines after it what it printed.  The test replays
every command with bash in a course folder laid out as the text says (the stubs in
``exercises/``, the model answers in ``solutions/``, a typical mistake in ``my_work/``),
shown under ``/home/ada/course``, and compares what it prints, line for line.

After a deliberate change to what ``grade`` prints, rewrite the sessions from real runs:
``python -m tests.test_docs_examples --update``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOWN_AS = "/home/ada/course"
MARK = "<!-- session: course -->"
BLOCK = re.compile(re.escape(MARK) + r"\n```\n(.*?)\n```", re.S)
SEPARATOR = "@@nngrade-session-command@@"


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def sessions(path: Path) -> list[str]:
    return BLOCK.findall(path.read_text(encoding="utf-8"))


def commands(block: str) -> list[str]:
    return [line[2:] for line in block.split("\n") if line.startswith("$ ")]


def make_course(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "exercises", folder / "exercises")
    shutil.copytree(ROOT / "solutions", folder / "solutions")
    (folder / "my_work").mkdir()
    shutil.copy(
        ROOT / "tests" / "corpus" / "exercise3" / "bug_column_pick.py",
        folder / "my_work" / "exercise3_cross_entropy.py",
    )
    return folder


def replay(block: str, course: Path) -> str:
    """The block as a real run prints it: each command, then its output."""
    # `$?` in a command is the status of the command before it, as in a terminal
    script = "rc=0\n" + "".join(f"echo {SEPARATOR}; (exit $rc); {cmd}\nrc=$?\n" for cmd in commands(block))
    bindir = str(Path(sys.executable).parent)
    env = dict(
        os.environ,
        GRADER_NO_SERVER="1",
        NO_COLOR="1",
        COLUMNS="100",
        PATH=bindir + os.pathsep + os.environ.get("PATH", ""),
    )
    env.pop("GITHUB_ACTIONS", None)
    env.pop("CI", None)
    run = subprocess.run(["bash", "-c", script], cwd=course, capture_output=True, text=True, env=env, timeout=600)
    outputs = (run.stdout + run.stderr).split(SEPARATOR + "\n")[1:]
    lines = []
    for cmd, out in zip(commands(block), outputs):
        lines.append("$ " + cmd)
        if out.strip("\n"):
            lines.append(out.rstrip("\n").replace(str(course), SHOWN_AS))
    return "\n".join(lines)


CASES = [(path, i) for path in pages() for i, _ in enumerate(sessions(path))]


def test_the_readme_shows_sessions():
    assert sessions(ROOT / "README.md"), "the README's sessions lost their marks"


@pytest.mark.slow
@pytest.mark.parametrize("path,index", CASES, ids=[f"{p.relative_to(ROOT)}#{i}" for p, i in CASES])
def test_a_shown_session_is_what_a_real_run_prints(path, index, tmp_path):
    block = sessions(path)[index]
    real = replay(block, make_course(tmp_path / "course"))
    assert real == block, (
        f"{path.relative_to(ROOT)}: session {index} no longer matches a real run; "
        "rewrite it with `python -m tests.test_docs_examples --update`"
    )


def update() -> None:
    import tempfile

    for path in pages():
        text = path.read_text(encoding="utf-8")
        if MARK not in text:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            course = make_course(Path(tmp) / "course")
            text = BLOCK.sub(lambda m, course=course: f"{MARK}\n```\n{replay(m.group(1), course)}\n```", text)
        path.write_text(text, encoding="utf-8")
        print("rewrote", path.relative_to(ROOT))


if __name__ == "__main__" and "--update" in sys.argv:
    update()
