"""The student edition's check that the release folder it grades is the installed package's
release (grader.commands.which_checks), on a made-up release folder and package: fast, no
`grade` started (the slow tests in test_release.py run it in an installed student edition)."""

import hashlib
import json
import os

import pytest

from grader.commands.which_checks import differs, release_manifest, warning

FILES = {
    "course.toml": "title = 'A'\n",
    "edition.py": 'EDITION = "student"\nHINT_LEVEL = "fix"\n',
    "suites/exercise1_softmax.json": '{"cases": [1]}\n',
    "suites/test_exercise1_softmax.py": "# a check\n",
    "cli.py": "# the engine\n",
}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture
def release(tmp_path):
    """A release folder (exercises/, MANIFEST.json) and an installed package of the same release."""
    installed = tmp_path / "site-packages" / "grader"
    for name, text in FILES.items():
        (installed / name).parent.mkdir(parents=True, exist_ok=True)
        (installed / name).write_text(text)
    folder = tmp_path / "course"
    (folder / "exercises").mkdir(parents=True)
    files = {f"package/grader/{name}": _sha(text) for name, text in FILES.items()}
    files["exercises/exercise1_softmax.py"] = _sha("")
    (folder / "MANIFEST.json").write_text(json.dumps({"grader_version": "1", "files": files}))
    return folder, installed


def _relist(folder, changes: dict) -> None:
    """The manifest with other sha256s (None: not listed) for these package files."""
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    for name, digest in changes.items():
        key = f"package/grader/{name}"
        if digest is None:
            del manifest["files"][key]
        else:
            manifest["files"][key] = digest
    (folder / "MANIFEST.json").write_text(json.dumps(manifest))


def test_the_same_release_says_nothing(release, monkeypatch):
    folder, installed = release
    assert not differs(folder / "MANIFEST.json", installed)
    monkeypatch.chdir(folder)
    assert warning(folder / "exercises", installed) is None
    # an engine file that differs is no other release (a patched install): only what says which
    _relist(folder, {"cli.py": _sha("other")})
    assert warning(folder / "exercises", installed) is None


@pytest.mark.parametrize(
    "changes",
    [
        {"course.toml": _sha("title = 'B'\n")},  # another course, or the same course re-declared
        {"edition.py": _sha('EDITION = "student"\nHINT_LEVEL = "none"\n')},  # another hint level
        {"suites/exercise1_softmax.json": _sha('{"cases": [2]}\n')},  # a fixed visible test
        {"suites/exercise2_log_softmax.json": _sha("{}")},  # an exercise the installed one lacks
        {"suites/exercise1_softmax.json": None},  # the installed one has an exercise this one lacks
    ],
)
def test_another_release_is_one_warning_line(release, monkeypatch, changes):
    folder, installed = release
    _relist(folder, changes)
    assert differs(folder / "MANIFEST.json", installed)
    monkeypatch.chdir(folder)
    line = warning(folder / "exercises", installed)
    assert line == (
        "grade: warning: this folder is from another release than the grade installed (its checks differ): "
        "install this folder's: pip install ./package"
    )
    # from elsewhere, the folder's package by its path; a notebook or one file in the release folder too
    monkeypatch.chdir(folder.parent)
    assert warning(folder / "exercises", installed).endswith("pip install ./course/package")
    (folder / "course.ipynb").write_text("{}")
    assert warning(folder / "course.ipynb", installed).endswith("pip install ./course/package")
    (folder / "exercises" / "exercise1_softmax.py").write_text("")
    assert warning(folder / "exercises" / "exercise1_softmax.py", installed).endswith("./course/package")


def test_the_current_folder_is_the_release_when_the_submission_is_elsewhere(release, tmp_path, monkeypatch):
    folder, installed = release
    _relist(folder, {"course.toml": _sha("other")})
    work = tmp_path / "elsewhere" / "mine"
    work.mkdir(parents=True)
    monkeypatch.chdir(folder)
    assert release_manifest(work) == folder / "MANIFEST.json"
    assert warning(work, installed).endswith("pip install ./package")
    monkeypatch.chdir(tmp_path)  # neither the submission's parent nor here holds a release
    assert release_manifest(work) is None and warning(work, installed) is None


@pytest.mark.parametrize(
    "text",
    [b"", b"{", b"[]", b'{"files": []}', b'{"files": {"package/grader/course.toml": 3}}', b"\xff\xfe", b"[" * 100000],
)
def test_a_malformed_manifest_says_nothing_and_never_raises(release, monkeypatch, text):
    folder, installed = release
    (folder / "MANIFEST.json").write_bytes(text)
    monkeypatch.chdir(folder)
    assert not differs(folder / "MANIFEST.json", installed)
    assert warning(folder / "exercises", installed) is None


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="a file root can read anyway")
def test_an_unreadable_manifest_says_nothing(release, monkeypatch):
    folder, installed = release
    (folder / "MANIFEST.json").chmod(0)
    try:
        monkeypatch.chdir(folder)
        assert warning(folder / "exercises", installed) is None
    finally:
        (folder / "MANIFEST.json").chmod(0o644)


def test_the_instructors_edition_never_checks(release, monkeypatch, capsys):
    from grader import cli

    folder, _ = release
    _relist(folder, {"course.toml": _sha("other")})
    monkeypatch.chdir(folder)
    cli._warn_other_release(folder / "exercises")  # this checkout is the instructor's edition
    assert capsys.readouterr().err == ""
