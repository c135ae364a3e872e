"""--output writes where a user expects: files atomically with the umask's permissions, links
through to their targets, devices, FIFOs and /dev/stdout written through, never replaced."""

import os
import stat
import subprocess
import sys
import threading
import zipfile

import pytest
from conftest import ROOT

from grader.atomic import replacing, write_atomic


def _in_child(umask: int, fn):
    """Run fn() in a forked child with this umask (the umask is per process)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.umask(umask)
            fn()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_file_honours_the_umask(tmp_path, umask, mode):
    target = tmp_path / "out" / "report.html"
    _in_child(umask, lambda: write_atomic(target, "<p>hi</p>"))
    assert target.read_text() == "<p>hi</p>"
    assert stat.S_IMODE(target.stat().st_mode) == mode
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temporary left behind


def test_existing_file_keeps_its_mode(tmp_path):
    target = tmp_path / "grades.csv"
    target.write_text("old")
    target.chmod(0o640)
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_symlink_is_followed_and_kept(tmp_path):
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_atomic(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "made.txt")
    write_atomic(link, "x")
    assert link.is_symlink() and (tmp_path / "made.txt").read_text() == "x"


def test_character_device_is_written_through_not_replaced(tmp_path):
    dev = tmp_path / "null"
    try:
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a /dev/null of our own
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD (run the tests as root)")
    before = dev.lstat()
    write_atomic(dev, "report")
    st = dev.lstat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert (st.st_ino, st.st_mode) == (before.st_ino, before.st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    write_atomic(fifo, "through the pipe")
    reader.join(10)
    assert got == ["through the pipe"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.slow
def test_dev_stdout_reaches_stdout(tmp_path):
    """`grade … --output /dev/stdout` prints the report (stdout a pipe here)."""
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "exercise1",
            "--submission",
            str(ROOT / "exercises"),
            "--format",
            "json",
            "--output",
            "/dev/stdout",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 1, r.stderr
    assert '"score": 0.0' in r.stdout and '"exercise1"' in r.stdout
    assert "report written to /dev/stdout" in r.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not stat.S_ISREG(os.lstat("/dev/stdout").st_mode)  # still the link to the stream, not a file


@pytest.mark.slow
def test_unwritable_output_is_a_clear_error(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "exercise1",
            "--submission",
            str(ROOT / "exercises"),
            "--output",
            "/proc/version.html",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert r.stderr.startswith("grade: error: cannot write the report to /proc/version.html")
    assert "Traceback" not in r.stderr


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "results.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_a_read_only_file_is_replaced_and_stays_read_only(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("old")
    target.chmod(0o444)
    write_atomic(target, "new")
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o444


def test_the_autograder_bundle_follows_the_same_rules(tmp_path):
    """The bundle (a zip written by zipfile) goes through the same helper: a new file gets the
    umask's mode, no temporary is left, a device is written through, never replaced."""
    from grader.formats import autograder

    out = tmp_path / "autograder.zip"
    _in_child(0o027, lambda: autograder.build(out))
    assert zipfile.is_zipfile(out) and stat.S_IMODE(out.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["autograder.zip"]
    dev = tmp_path / "null"
    try:
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        return  # the device half needs CAP_MKNOD (as test_character_device_is_written_through_not_replaced)
    autograder.build(dev)
    assert stat.S_ISCHR(dev.lstat().st_mode) and sorted(p.name for p in tmp_path.iterdir()) == [
        "autograder.zip",
        "null",
    ]


# Moves that put a folder in place (not a file's content): a bare git clone, a release's files.
FOLDER_MOVES = {"grader/commands/classroom.py", "grader/commands/release.py"}


def test_files_are_replaced_in_one_place():
    """One atomic-write helper: no module but grader/atomic.py renames a file over another
    (``os.replace``, ``os.rename``), save the folder moves named above."""
    import ast

    found = set()
    for path in sorted((ROOT / "grader").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("replace", "rename")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "os"
            ):
                found.add(str(path.relative_to(ROOT)))
    assert found - FOLDER_MOVES == {"grader/atomic.py"}
