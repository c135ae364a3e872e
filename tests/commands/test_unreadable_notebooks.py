"""`grade` on a notebook that cannot be read (100,000 nested brackets in its metadata; a
cell holding the escape ``\\ud800``), by itself and through the warm server: a report that
gives each chosen exercise 0 with the reason, never a traceback or exit status 3."""

from __future__ import annotations

import pytest

from tests.commands.test_server import _env, _grade, server_dir  # noqa: F401 (a fixture)
from tests.submission.test_reader_fuzz import DEEP_METADATA, LONE_SURROGATE

# Slow by design: each case grades a notebook with a cold `grade` and through a warm server.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize("mode", ["no-server", "server"])
def test_grade_reports_an_unreadable_notebook(mode, tmp_path, server_dir):  # noqa: F811
    (tmp_path / "deep.ipynb").write_text(DEEP_METADATA)
    (tmp_path / "lone.ipynb").write_text(LONE_SURROGATE)
    env = _env(server_dir, **({"GRADER_NO_SERVER": "1"} if mode == "no-server" else {}))
    for name, reason in (
        ("deep.ipynb", "nested too deeply"),
        ("lone.ipynb", "\\ud800"),
        ("deep.ipynb", "nested too deeply"),
    ):  # twice: the server survives it
        r = _grade(env, "1", "2", "-s", tmp_path / name, cwd=tmp_path)
        assert r.returncode == 1, (name, r.returncode, r.stdout, r.stderr)
        assert "Traceback" not in r.stdout + r.stderr, r.stderr
        assert reason in r.stdout and "Total: 0.00 / 20" in r.stdout, r.stdout
