"""grader.transport.processes: what the zygote inherits (tests/transport/test_sandbox.py and
tests/untrusted/test_hostile_wire.py drive real workers)."""

from grader.transport.processes import PACKAGE_ROOT, zygote_environment


def test_the_zygote_gets_an_allowlisted_environment(monkeypatch):
    monkeypatch.setenv("GRADER_SECRET", "s3cret")
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    monkeypatch.setenv("PATHOLOGICAL", "x")  # a prefix of an allowed name is not allowed
    monkeypatch.setenv("VIRTUAL_ENV", "/course/.venv")  # where the course's checkout is: not for the worker
    monkeypatch.setenv("PATH", "/course/.venv/bin:/usr/bin")
    env = zygote_environment()
    assert env["CUDA_VISIBLE_DEVICES"] == "0" and env["LC_ALL"] == "C.UTF-8"
    assert not {"GRADER_SECRET", "GITHUB_TOKEN", "PATHOLOGICAL", "VIRTUAL_ENV"} & set(env)
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"


def test_package_root_is_the_checkout():
    assert (PACKAGE_ROOT / "grader" / "transport" / "processes.py").is_file()
