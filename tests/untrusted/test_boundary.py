"""grader.untrusted.boundary: the package-level rules of the trust boundary."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.untrusted import boundary, startup

ROOT = Path(__file__).resolve().parents[2]


def test_a_worker_may_import_only_the_modules_it_is_built_from():
    for name in (
        "grader",
        "grader.wire",
        "grader.wire.codec",
        "grader.wire.message",
        "grader.wire.sizes",
        "grader.errors",
        "grader.settings",
        "grader.untrusted",
        "grader.untrusted.isolation",
        "torch",
        "torch.nn.functional",
        "json",
    ):
        assert boundary.worker_may_import(name), name
    for name in (
        "reference",
        "reference.softmax",
        "solutions",
        "grader.suites",
        "grader.suites.common",
        "grader.harness.run",
        "grader.verdicts.checks",
        "grader.verdicts.forbidden",
        "grader.feedback",
        "grader.batch",
        "grader.commands.server",
        "grader.formats",
        "grader.transport",
        "grader.transport.student",
        "grader.cli",
        "grader.verdicts.a_module_added_later",
    ):
        assert not boundary.worker_may_import(name), name
    assert boundary.worker_may_import("graders") and boundary.worker_may_import("referenced")  # names, not prefixes


def test_secrets_are_whole_packages():
    public = [
        "grader.transport.student",
        "grader.transport.session",
        "grader.wire.codec",
        "grader.commands.server",
        "grader.cli",
        "torch",
    ]
    assert boundary.secrets_loaded(public) == []
    secret = [
        "reference",
        "solutions.x",
        "grader.suites.test_exercise1_softmax",
        "grader.harness.plugin",
        "grader.verdicts.checks",
        "grader.verdicts.tolerances",
        "grader.feedback.report",
        "grader.batch.command",
        "grader.verdicts",
        "grader.verdicts.forbidden",
        "grader.verdicts.integrity",
        "grader.feedback",
        "grader.feedback.textsafe",
    ]
    assert boundary.secrets_loaded(public + secret) == sorted(secret)


SEALED = r"""
import sys
import grader.verdicts.forbidden, grader.transport.student  # what a worker forked from the grader holds
import grader.wire.codec, grader.untrusted.isolation
from grader.untrusted import boundary
boundary.seal()
assert "grader.verdicts.forbidden" not in sys.modules and "grader.transport.student" not in sys.modules
assert "grader.transport" not in sys.modules  # the grader's side of the wire: not a worker's
for name in ("grader.verdicts.forbidden", "grader.transport.student", "reference", "grader.harness.run"):
    try:
        __import__(name)
    except ImportError as e:  # the module, or the first of its packages refused
        refused = str(e).removesuffix(" is not available to submissions")
        assert refused != str(e) and (name + ".").startswith(refused + "."), e
    else:
        raise AssertionError(name + " was imported")
import grader.wire.codec, grader.untrusted.isolation, grader.untrusted.watcher, json, torch  # still there
print("ok")
"""


def test_seal_forgets_and_refuses_the_graders_modules():
    r = subprocess.run([sys.executable, "-c", SEALED], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.stdout.strip() == "ok", r.stderr


PLANNED = r"""
import os, sys
import grader.verdicts.forbidden, grader.wire.codec  # held by the zygote when it plans
from grader.untrusted import boundary
boundary.plan_seal()
import grader.transport.student  # a course module imported after the plan (in the zygote or the worker)
import grader.untrusted.isolation, json  # and modules a worker may hold
calls = []
may = boundary.worker_may_import
boundary.worker_may_import = lambda name: calls.append(name) or may(name)
boundary.seal()
assert "grader.verdicts.forbidden" not in sys.modules and "grader.transport.student" not in sys.modules
assert "grader.transport" not in sys.modules
assert "grader.wire.codec" in sys.modules and "grader.untrusted.isolation" in sys.modules
assert calls == [], calls  # nothing read name by name: the plan and the imports since
assert not any(type(f).__name__ == "_Recorder" for f in sys.meta_path)
try:
    import grader.verdicts.forbidden
except ImportError as e:
    assert "not available to submissions" in str(e)
else:
    raise AssertionError("imported after the seal")
print("ok")
"""


def test_seal_after_a_plan_forgets_the_planned_modules_and_those_imported_since_without_reading_them_all():
    r = subprocess.run([sys.executable, "-c", PLANNED], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.stdout.strip() == "ok", r.stderr


FORK = r"""
import os, socket, sys, types
import torch
from grader.untrusted import startup
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
sys.modules["grader.verdicts.tolerances"] = types.ModuleType("grader.verdicts.tolerances")  # a module added later
assert startup.secrets_loaded() == ["grader.verdicts.tolerances"]
assert startup.fork_zygote(b.fileno(), 2, "/", {}) is None
print("ok")
"""


def test_a_zygote_is_not_forked_from_a_process_holding_any_module_of_a_secret_package():
    r = subprocess.run([sys.executable, "-c", FORK], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.stdout.strip() == "ok", r.stderr


BEFORE_THE_FORK = r"""
import json, sys
import grader.cli, grader.commands.grade_here, grader.commands.server, grader.transport.processes
import grader.transport.session, grader.transport.student
from grader.untrusted.boundary import secrets_loaded
print(json.dumps(secrets_loaded()))
"""


def test_what_grade_loads_before_it_forks_the_zygote_holds_no_secret():
    """A module of a secret package imported at the top of the grading commands or the transport
    would make every cold `grade` refuse to fork its zygote (and import torch a second time)."""
    r = subprocess.run([sys.executable, "-c", BEFORE_THE_FORK], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []


GRADE_MAKES_ITS_ZYGOTE = r"""
import json, sys
from grader.commands import grade_here
from grader.transport import processes
from grader.untrusted import startup

seen = {}
made = processes.Zygote.__init__

def spy(self, *a, **k):  # the moment the zygote is made: what this process holds then
    seen.update(torch="torch" in sys.modules, secrets=startup.secrets_loaded())
    made(self, *a, **k)
    seen["forked"] = isinstance(self.proc, startup.ForkedZygote)

def stop(*a, **k):  # the zygote is made: the grading itself is not this test's
    raise SystemExit(0)

processes.Zygote.__init__ = spy
grade_here._grade_read = stop
from grader.cli import main
try:
    main(sys.argv[1:])
finally:
    print(json.dumps(seen))
"""


@pytest.mark.parametrize("secret", [False, True], ids=["forked", "secret-in-environment"])
def test_grade_makes_its_zygote_before_it_loads_a_secret_and_imports_torch_first_only_to_fork_it(secret):
    """`grade` with every option that is read before the zygote (a hint level, a format): nothing of a
    secret package loaded by then, so the zygote is forked, one torch for both sides.  Where it may not
    be forked (a secret-named variable), the zygote is an interpreter started before this process
    imports torch: under a memory limit the kernel then takes the zygote, not `grade`."""
    env = {k: v for k, v in os.environ.items() if not startup.SECRET_NAMES.search(k)}
    if secret:
        env["NNGRADE_TEST_TOKEN"] = "x"
    argv = [
        "1",
        "--submission",
        str(ROOT / "solutions"),
        "--no-server",
        "--hint-level",
        "concept",
        "--format",
        "prairielearn",
        "--output",
        os.devnull,
    ]
    r = subprocess.run(
        [sys.executable, "-c", GRADE_MAKES_ITS_ZYGOTE, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen == {"torch": not secret, "secrets": [], "forked": not secret}, r.stderr
