"""The code's own checks: no function of grader/ above cyclomatic complexity 15 (ruff's C901,
configured in pyproject.toml), and mypy passing on grader/ with the configuration there, strict
on the wire and the report's records."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed: pip install -e '.[dev]'")


def _pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _too_complex(*config: str) -> list:
    """(file name, function, ruff's message, line) of each function past the bound."""
    options = [o for c in config for o in ("--config", c)]
    # --ignore-noqa: a suppression comment on a function does not take it out of the bound
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--select",
            "C901",
            "--ignore-noqa",
            "--output-format",
            "json",
            "--exit-zero",
            *options,
            "grader",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    found = []
    for d in json.loads(r.stdout):
        name = d["message"].split("`")[1]
        found.append((Path(d["filename"]).name, name, d["message"], d["location"]["row"]))
    return found


def test_no_function_of_the_grader_is_more_complex_than_the_bound():
    _needs("ruff")
    over = [f"{file}:{row} {message}" for file, name, message, row in _too_complex()]
    assert not over, "split these into functions with domain names:\n" + "\n".join(over)


def test_the_complexity_bound_is_configured_and_live():
    """The bound the test above relies on is the configured 15, and the check reports what is
    past a bound (a lower one here): it is not silently off."""
    _needs("ruff")
    config = _pyproject()
    assert config["tool"]["ruff"]["lint"]["mccabe"]["max-complexity"] == 15
    assert "C90" in config["tool"]["ruff"]["lint"]["select"]
    assert len(_too_complex("lint.mccabe.max-complexity = 10")) > 5


@pytest.mark.slow
def test_mypy_passes_on_the_grader():
    """``mypy`` with pyproject's [tool.mypy] (the CI step's command)."""
    _needs("mypy")
    r = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert "Success" in r.stdout


# what mypy's --strict stands for (mypy --help), less warn_redundant_casts: a whole-run flag
STRICT = {
    "disallow_any_generics",
    "disallow_subclassing_any",
    "disallow_untyped_calls",
    "disallow_untyped_defs",
    "disallow_incomplete_defs",
    "check_untyped_defs",
    "disallow_untyped_decorators",
    "warn_unused_ignores",
    "warn_return_any",
    "strict_equality",
    "extra_checks",
}
STRICT_MODULES = {"grader.wire", "grader.wire.*", "grader.feedback.records"}


def _strict_override() -> dict:
    overrides = [o for o in _pyproject()["tool"]["mypy"]["overrides"] if STRICT <= set(o)]
    assert len(overrides) == 1, "one override of pyproject's [tool.mypy] holds the strict flags"
    return overrides[0]


def test_the_wire_and_the_records_are_typed_strictly():
    """The strict override names the wire (both sides of the boundary) and the records, with
    every flag of --strict on, and no lenient override takes any of them back."""
    strict = _strict_override()
    assert set(strict["module"]) == STRICT_MODULES
    assert all(strict[flag] is True for flag in STRICT) and strict["implicit_reexport"] is False
    assert {"var-annotated", "annotation-unchecked"} <= set(strict["enable_error_code"])
    for o in _pyproject()["tool"]["mypy"]["overrides"]:
        if o.get("ignore_errors"):
            lenient = {m for m in o["module"] if m.startswith("grader.wire") or m == "grader.feedback.records"}
            assert not lenient, f"strict modules among those whose errors are ignored: {lenient}"


@pytest.mark.parametrize("path,strict", [("wire/probe", True), ("feedback/records", True), ("feedback/probe", False)])
def test_the_strict_override_is_live(tmp_path, path, strict):
    """mypy with pyproject's configuration refuses an unannotated function in the wire and the
    records, and takes the same function elsewhere (the lenient default)."""
    _needs("mypy")
    file = tmp_path / "grader" / f"{path}.py"
    file.parent.mkdir(parents=True)
    for init in (tmp_path / "grader" / "__init__.py", file.parent / "__init__.py"):
        init.write_text("", encoding="utf-8")
    file.write_text("def twice(x):\n    return [x, x]\n", encoding="utf-8")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--no-incremental",
            "--config-file",
            str(ROOT / "pyproject.toml"),
            f"grader/{path}.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    if strict:
        assert r.returncode == 1 and "no-untyped-def" in r.stdout, r.stdout + r.stderr
    else:
        assert r.returncode == 0 and "Success" in r.stdout, r.stdout + r.stderr


def test_the_code_is_formatted():
    """One layout for the code: ``ruff format --check .`` (CI runs it too) finds nothing to change."""
    _needs("ruff")
    r = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert r.returncode == 0, "run `ruff format .`:\n" + r.stdout + r.stderr
