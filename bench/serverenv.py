"""For the edit-grade loop's benchmarks: an environment whose `grade` uses a warm
server of its own (a private, temporary socket folder), stopped at the end."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def stop_server(env: dict) -> None:
    subprocess.run([sys.executable, "-m", "grader.cli", "server", "stop"], env=env, capture_output=True, cwd=ROOT)


@contextlib.contextmanager
def private_server(**extra):
    """Yields (env, folder); prints the load average before and after (the numbers depend on it)."""
    with tempfile.TemporaryDirectory(prefix="nngrade-bench-") as d:
        os.chmod(d, 0o700)
        env = dict(os.environ, GRADER_SERVER_DIR=d, PYTHONPATH=str(ROOT), **extra)
        env.pop("GRADER_NO_SERVER", None)
        env.pop("CI", None)
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        try:
            yield env, Path(d)
        finally:
            stop_server(env)
            print(f"load average after: {os.getloadavg()[0]:.2f}")
