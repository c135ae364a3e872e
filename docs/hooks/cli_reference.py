"""MkDocs hook: the command reference is generated from the code.

A page that holds ``<!-- grade-help VERB -->`` gets, in its place, what ``grade VERB --help``
prints (``<!-- grade-help -->`` alone: ``grade --help``), run in a fresh interpreter so the
page always says what the installed command says.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

MARK = re.compile(r"<!-- grade-help ?([\w-]*) -->")


def _help(verb: str) -> str:
    argv = ([verb] if verb else []) + ["--help"]
    env = dict(os.environ, COLUMNS="100", GRADER_NO_SERVER="1")
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from grader.cli import main; sys.exit(main(sys.argv[1:]))", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    text = (run.stdout or run.stderr).rstrip()
    if run.returncode != 0 or not text:
        raise RuntimeError(f"`grade {' '.join(argv)}` exited {run.returncode}: {run.stderr.strip()[:300]}")
    return f"```text\n$ grade {' '.join(argv)}\n{text}\n```"


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 (MkDocs' hook signature)
    return MARK.sub(lambda m: _help(m.group(1)), markdown)
