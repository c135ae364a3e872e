"""The pyproject.toml a Gradescope bundle gets when it is built from a regular install (where no
pyproject.toml sits beside the package): the checkout's own tables, and the installed metadata."""

from __future__ import annotations

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from tests.conftest import ROOT


def test_the_bundles_pyproject_from_an_install_has_the_checkouts_tables(monkeypatch, tmp_path):
    from packaging.requirements import Requirement

    from grader.formats import autograder

    ours = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert tomllib.loads(autograder.project_file().decode()) == ours  # from a checkout: the file itself
    monkeypatch.setattr(autograder, "PROJECT", tmp_path)  # as in site-packages: no pyproject.toml
    written = tomllib.loads(autograder.project_file().decode())
    assert written["build-system"] == ours["build-system"]
    assert written["project"]["scripts"] == ours["project"]["scripts"]
    assert written["tool"]["setuptools"] == ours["tool"]["setuptools"]
    assert written["project"]["name"] == ours["project"]["name"]
    assert written["project"]["requires-python"] == ours["project"]["requires-python"]
    wanted = [str(Requirement(d)) for d in ours["project"]["dependencies"]]
    assert written["project"]["dependencies"] == wanted
