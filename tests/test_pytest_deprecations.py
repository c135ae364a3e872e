"""The grader runs the hidden suites through pytest's API, and pytest is not pinned:
nothing it deprecates may be used.  The project's own tests turn
pytest's deprecation warnings into errors (pyproject's filterwarnings)."""

from __future__ import annotations

import warnings

import pytest
import tomllib

from tests.conftest import ROOT


def test_the_projects_tests_fail_on_pytest_deprecations():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "error::pytest.PytestDeprecationWarning" in config["filterwarnings"]
    with pytest.raises(pytest.PytestDeprecationWarning):  # in force in this very session
        warnings.warn(pytest.PytestRemovedIn10Warning("a deprecated use"), stacklevel=1)


def test_no_fixture_wider_than_a_test_is_a_bound_method(monkeypatch, grade_folder):
    """pytest 9.1 deprecates module- and class-scoped fixtures defined as instance methods
    (a PytestRemovedIn10Warning for every test that uses one); checked here on the real
    grading session whatever pytest is installed."""
    from grader.harness import run

    seen = []

    class Probe:
        @pytest.hookimpl(tryfirst=True)
        def pytest_fixture_setup(self, fixturedef, request):
            seen.append((fixturedef.argname, fixturedef.scope, fixturedef.func))

    real = run.pytest.main
    monkeypatch.setattr(run.pytest, "main", lambda args, plugins: real(args, plugins=[*plugins, Probe()]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = grade_folder(ROOT / "solutions", "exercise1")
    assert report["score"] == 10.0
    assert not [w for w in caught if issubclass(w.category, pytest.PytestDeprecationWarning)]
    wide = [(name, scope, func) for name, scope, func in seen if scope != "function"]
    assert "_student_session" in [name for name, _, _ in wide]
    for name, scope, func in wide:
        bound_to = getattr(func, "__self__", None)
        assert bound_to is None or isinstance(bound_to, type), f"{scope}-scoped fixture {name} is bound to {bound_to!r}"
