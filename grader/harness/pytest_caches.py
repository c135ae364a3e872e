"""Caches for what pytest recomputes for every run of an item although it
cannot change while one session loops over many submissions (grader.harness.run)."""

from __future__ import annotations

import contextlib
import inspect
import types

from _pytest import fixtures

_MEMO = "_grader_memo"


def _expected_getfuncargnames(fn) -> bool:
    """Whether ``fn`` is pytest's own ``getfuncargnames(function, *, name, cls)``."""
    if not callable(fn) or getattr(fn, _MEMO, False):
        return False
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    kind = inspect.Parameter
    return [(p.name, p.kind) for p in params] == [
        ("function", kind.POSITIONAL_OR_KEYWORD),
        ("name", kind.KEYWORD_ONLY),
        ("cls", kind.KEYWORD_ONLY),
    ]


def _memoized(original):
    cache: dict = {}

    def getfuncargnames(function, *, name="", cls=None):
        # Only plain functions without attributes (no __wrapped__, __signature__, ...):
        # their argument names follow from the code and which arguments have defaults.
        # Keyed by the code, not the function: pytest makes a new `lambda: request`
        # for every request of the `request` fixture.
        if type(function) is not types.FunctionType or function.__dict__ or cls is not None:
            return original(function, name=name, cls=cls)
        key = (function.__code__, len(function.__defaults__ or ()), tuple(function.__kwdefaults__ or ()), name)
        names = cache.get(key)
        if names is None:
            names = cache[key] = original(function, name=name, cls=cls)
        return names

    setattr(getfuncargnames, _MEMO, True)
    return getfuncargnames


@contextlib.contextmanager
def memoized_funcargnames():
    """Memoize ``_pytest.fixtures.getfuncargnames`` (an ``inspect.signature`` for
    every fixture definition pytest makes, several per item run) while in the
    block, if it is the function it is expected to be."""
    original = getattr(fixtures, "getfuncargnames", None)
    if not _expected_getfuncargnames(original):
        yield
        return
    memo = fixtures.getfuncargnames = _memoized(original)
    try:
        yield
    finally:
        if fixtures.getfuncargnames is memo:
            fixtures.getfuncargnames = original


@contextlib.contextmanager
def cached_hookproxies(session):
    """Memoize ``session.gethookproxy`` (behind every ``node.ihook``) per path while
    in the block: it depends only on which conftest files are loaded, and those
    are all loaded by collection, before the tests run."""
    original = getattr(session, "gethookproxy", None)
    if not callable(original) or "gethookproxy" in vars(session):
        yield
        return
    cache: dict = {}

    def gethookproxy(fspath):
        proxy = cache.get(fspath)
        if proxy is None:
            proxy = cache[fspath] = original(fspath)
        return proxy

    session.gethookproxy = gethookproxy
    try:
        yield
    finally:
        if vars(session).get("gethookproxy") is gethookproxy:
            del session.gethookproxy
