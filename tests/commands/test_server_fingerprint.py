"""The warm server's fingerprint covers what is installed, not only the grader's code: an
upgrade of torch or of any package replaces the server (which would otherwise keep grading
with the old ones)."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from grader.commands import server_client
from tests.commands.test_server import _alive, _env, _grade, _status, _wait, server_dir  # noqa: F401
from tests.conftest import ROOT


def _site(tmp_path, version: str):
    site = tmp_path / "site"
    for old in site.glob("somepkg-*.dist-info"):
        shutil.rmtree(old)
    meta = site / f"somepkg-{version}.dist-info"
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text(f"Name: somepkg\nVersion: {version}\n")
    return site


def test_a_changed_package_version_changes_the_fingerprint(tmp_path, monkeypatch):
    site = _site(tmp_path, "1.0")
    monkeypatch.setattr(sys, "path", sys.path[:1] + [str(site)] + sys.path[1:])  # [0]: the command's folder
    before = server_client.fingerprint()
    assert server_client.fingerprint() == before  # stable while nothing changes
    _site(tmp_path, "1.1")
    assert server_client.fingerprint() != before


def test_a_changed_torch_version_changes_the_fingerprint(tmp_path, monkeypatch):
    # a torch found first on sys.path (as a build from source, without a metadata folder)
    torch = tmp_path / "site" / "torch"
    torch.mkdir(parents=True)
    (torch / "version.py").write_text("__version__ = '2.5.0'\n")
    monkeypatch.setattr(sys, "path", sys.path[:1] + [str(tmp_path / "site")] + sys.path[1:])
    before = server_client.fingerprint()
    (torch / "version.py").write_text("__version__ = '2.6.0'\n")
    assert server_client.fingerprint() != before


@pytest.mark.slow
def test_server_is_replaced_when_a_package_is_upgraded(server_dir, tmp_path):  # noqa: F811
    site = _site(tmp_path, "1.0")
    env = _env(server_dir, PYTHONPATH=os.pathsep.join([str(ROOT), str(site)]))
    assert _grade(env, "exercise1", "--submission", ROOT / "solutions", cwd=tmp_path).returncode == 0
    pid, served = _status(env, cwd=tmp_path)
    assert _grade(env, "exercise1", "--submission", ROOT / "solutions", cwd=tmp_path).returncode == 0
    assert _status(env, cwd=tmp_path) == (pid, 2)  # the same server while nothing changed
    _site(tmp_path, "2.0")
    r = _grade(env, "exercise1", "--submission", ROOT / "solutions", cwd=tmp_path)
    assert r.returncode == 0 and "Total: 10.00 / 10" in r.stdout, r.stderr
    new_pid, served = _status(env, cwd=tmp_path)
    assert new_pid != pid and served == 1
    assert _wait(lambda: not _alive(pid), 30)
