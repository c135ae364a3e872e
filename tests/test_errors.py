"""grader.errors: the error kinds serialise as the bare strings did, and every kind the
grader produces is one of them."""

import ast
import enum
import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from grader.errors import RUN_KINDS, ErrorKind, StudentError

GRADER = Path(__file__).resolve().parent.parent / "grader"


def test_a_kind_is_its_string_for_every_serialiser():
    record = {"status": "error", "kind": ErrorKind.TIMEOUT}
    assert json.dumps(record) == '{"status": "error", "kind": "timeout"}'
    assert orjson.dumps(record) == b'{"status":"error","kind":"timeout"}'
    assert json.dumps({ErrorKind.LOAD: 1}) == '{"load": 1}'
    assert (str(ErrorKind.LOAD), f"{ErrorKind.LOAD}", "%s" % ErrorKind.LOAD) == ("load",) * 3  # noqa: UP031 (the test: %-formatting too)
    assert ErrorKind.LOAD == "load" and "load" in RUN_KINDS and hash(ErrorKind.LOAD) == hash("load")
    import jinja2

    assert (
        jinja2.Template("{{ k }}|{{ k|tojson }}").render(k=ErrorKind.NOT_IMPLEMENTED)
        == 'not_implemented|"not_implemented"'
    )


def test_student_error_takes_a_kind_or_its_string_and_refuses_others():
    e = StudentError("crash", "it died", "a hint", request={"op": "call"})
    assert e.kind is ErrorKind.CRASH and str(e) == "it died"
    c = e.copy()
    assert c is not e and (c.kind, c.message, c.hint, c.details) == (e.kind, e.message, e.hint, e.details)
    with pytest.raises(ValueError):
        StudentError("crashed", "a kind nobody knows")


def test_run_kinds_are_the_ones_that_mean_the_code_did_not_run():
    assert StudentError.RUN_KINDS is RUN_KINDS
    assert RUN_KINDS == {"missing_file", "load", "crash", "timeout", "budget", "protocol"}
    assert ErrorKind.EXCEPTION not in RUN_KINDS and ErrorKind.INTERNAL not in RUN_KINDS


def test_errors_is_a_leaf():
    code = "import sys, grader.errors; print(sorted(m for m in sys.modules if m.startswith('grader')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['grader', 'grader.errors']"
    assert issubclass(ErrorKind, str) and issubclass(ErrorKind, enum.Enum)
    if sys.version_info >= (3, 11):
        assert issubclass(ErrorKind, enum.StrEnum)


def test_error_kinds_are_their_strings_on_every_python():
    """On 3.10 (no enum.StrEnum) as on 3.11+: str(), format(), f-strings and json give the value."""
    import json

    assert str(ErrorKind.LOAD) == "load" and f"{ErrorKind.LOAD}" == "load" and format(ErrorKind.LOAD, ">5") == " load"
    assert json.dumps({"kind": ErrorKind.LOAD}) == '{"kind": "load"}'
    assert ErrorKind("load") is ErrorKind.LOAD and hash(ErrorKind.LOAD) == hash("load")


def _literal_kinds():
    """(file, line, value) of each string literal given as a StudentError's kind in grader/."""
    for path in sorted(GRADER.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "StudentError"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                yield path.relative_to(GRADER.parent), node.lineno, node.args[0].value


def test_every_kind_the_grader_gives_is_an_error_kind():
    unknown = [f"{f}:{line}: {v!r}" for f, line, v in _literal_kinds() if v not in set(ErrorKind)]
    assert not unknown, unknown
    # the transport names its kinds by the enum, never by a bare string
    assert not [x for x in _literal_kinds() if x[0].parts[1] == "transport"]
