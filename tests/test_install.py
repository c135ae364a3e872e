"""Right scores after a regular install, from a wheel, and as a non-root user.

The project is installed (never in editable mode) into two virtual
environments that reuse this machine's torch (``--system-site-packages``,
``--no-deps --no-build-isolation --no-index``: no network): one with
``pip install <source>`` and one from a wheel built with ``pip wheel``.  There
``grade N`` runs for every exercise on its own and ``grade all`` on the model
answers and on every correct variant of ``tests/corpus`` (``ok_*.py``),
and everything gets full marks (the runs are shared out between the two
environments).  The regular install also builds a course's student edition
(``grade release --course DIR``, from outside any checkout), and says in one line
where the built-in course's files are.  Then the non-root path: ``grade all`` as
``nobody`` (the worker's sandbox is then a user namespace), and a class graded
by ``grade batch`` as ``nobody`` with students who try to kill or stop the
batch and the other students' workers, to read the grader's secret and to
mount a file system of their own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from grader.exercises import EXERCISES
from tests.batch.test_batch import _survivors
from tests.conftest import ROOT
from tests.transport.test_sandbox import TMPFS

CORPUS = ROOT / "tests" / "corpus"
NOBODY = 65534
# Slow by design: each test installs the grader into fresh virtual environments and grades with it.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the sandbox is Linux's"),
]


def _run(cmd, cwd, timeout=600, env=None, **kw):
    e = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CI")}
    e.update(env or {})
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=e, capture_output=True, text=True, timeout=timeout, **kw)


def _venv(path: Path) -> Path:
    """A venv that reuses this machine's packages; torch is linked into its own
    site-packages, where a student's ``pip install`` puts it next to the course."""
    import torch

    r = _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", path], cwd=path.parent)
    assert r.returncode == 0, r.stderr
    python = path / "bin" / "python"
    site = Path(
        _run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=path.parent
        ).stdout.strip()
    )
    (site / "torch").symlink_to(Path(torch.__file__).parent, target_is_directory=True)
    where = _run([python, "-c", "import torch; print(torch.__file__)"], cwd=path.parent).stdout.strip()
    assert Path(where).is_relative_to(site), where
    return python


@pytest.fixture(scope="module")
def installs(tmp_path_factory):
    """{"regular": venv python, "wheel": venv python}, plus the shared folders."""
    base = tmp_path_factory.mktemp("install")
    os.chmod(base, 0o755)
    src = base / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "build", "dist", "*.egg-info")
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "grader", "reference"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(
            ROOT / name, src / name, **({"ignore": ignore} if (ROOT / name).is_dir() else {})
        )
    pip = ["-m", "pip", "--disable-pip-version-check", "--no-input"]
    regular = _venv(base / "regular")
    r = _run([regular, *pip, "install", "-q", "--no-deps", "--no-build-isolation", "--no-index", src], cwd=base)
    assert r.returncode == 0, r.stdout + r.stderr
    r = _run(  # built by that venv's Python: its setuptools is the system's (this venv's may lack bdist_wheel)
        [
            regular,
            *pip,
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            base / "dist",
            src,
        ],
        cwd=base,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    (wheel_file,) = (base / "dist").glob("nngrade-*.whl")
    wheel = _venv(base / "wheel")
    r = _run([wheel, *pip, "install", "-q", "--no-deps", "--no-index", wheel_file], cwd=base)
    assert r.returncode == 0, r.stdout + r.stderr
    subs = base / "submissions"
    shutil.copytree(ROOT / "solutions", subs / "solutions", ignore=ignore)
    _variant_folders(subs)
    subprocess.run(["chmod", "-R", "a+rX", str(base)], check=True)
    return {"regular": regular, "wheel": wheel, "base": base, "subs": subs}


def _variant_folders(subs: Path) -> list:
    """Folders holding the corpus's correct variants: the k-th folder takes each
    exercise's k-th ``ok_*.py`` (cycling), so every variant is graded once at least."""
    oks = {ex: sorted((CORPUS / ex.name).glob("ok_*.py")) for ex in EXERCISES}
    folders = []
    for k in range(max(len(v) for v in oks.values())):
        folder = subs / f"variants{k}"
        folder.mkdir(parents=True, exist_ok=True)
        for ex, files in oks.items():
            if files:
                shutil.copyfile(files[k % len(files)], folder / ex.file)
        folders.append(folder)
    return folders


def _grade(python: Path, cwd: Path, *args, prefix=()):
    out = cwd / f"report-{time.monotonic_ns()}.json"
    r = _run([*prefix, python, "-m", "grader.cli", *args, "--format", "json", "--output", out], cwd=cwd)
    try:
        report = json.loads(out.read_text())
    except (OSError, ValueError):
        report = None
    return r, report


def _lost(report) -> list:
    return [
        (ex["name"], t["name"], t["message"][:300])
        for ex in report["exercises"]
        for t in ex["tests"]
        if t["status"] not in ("passed", "skipped")
    ][:5]


@pytest.mark.parametrize("mode", ["regular", "wheel"])
def test_an_installed_grader_gives_full_marks_everywhere(installs, mode):
    """Regular install: ``grade N`` for each exercise on its own and ``grade all``;
    wheel: ``grade all`` on the model answers and on every correct variant.  (``pip
    install <source>`` builds a wheel and installs it: the two installed trees are
    the same, so the runs are shared out between them to keep the test short.)"""
    python, base, subs = installs[mode], installs["base"], installs["subs"]
    r = _run(
        [python, "-c", "import grader, grader.untrusted.isolation as i; print(grader.__file__, i.is_checkout())"],
        cwd=base,
    )
    where, checkout = r.stdout.split()
    assert Path(where).is_relative_to(python.parent.parent) and "site-packages" in where, where
    assert checkout == "False"
    runs = [("grade all on solutions", ["all", "--submission", subs / "solutions"])]
    if mode == "regular":
        runs += [(f"grade {ex.name}", [ex.name, "--submission", subs / "solutions"]) for ex in EXERCISES]
    else:
        runs += [
            (f"grade all on {folder.name}", ["all", "--submission", folder])
            for folder in sorted(subs.iterdir())
            if folder.name != "solutions"
        ]
    with ThreadPoolExecutor(max(1, min(3, (os.cpu_count() or 1)))) as pool:
        results = list(pool.map(lambda run: (run[0], *_grade(python, base, *run[1])), runs))
    bad = []
    for what, r, report in results:
        if report is None or report["score"] != report["max_score"]:
            bad.append((what, r.returncode, r.stderr[-500:] if report is None else _lost(report)))
    assert not bad, bad


def _one_exercise_course(into: Path) -> Path:
    """The example course's first exercise, as a course folder of its own."""
    example = ROOT / "examples" / "course"
    shutil.copytree(
        example / "exercise1_layer_norm", into / "exercise1_layer_norm", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(example / "forbidden.toml", into)
    text = (example / "course.toml").read_text()
    (into / "course.toml").write_text(text[: text.index("[[exercise]]", text.index("[[exercise]]") + 1)])
    return into


def test_an_installed_grader_releases_a_course_and_names_where_the_built_in_one_is(installs, tmp_path):
    """A regular install has no pyproject.toml and no exercises/ beside its package: ``grade release
    --course DIR`` builds the student edition, which declares the installed distribution's
    requires-python and dependencies (not its extras'); the built-in course, whose stubs and model
    answers are in the source repository, is one line in ``grade release`` and ``grade check-course``."""
    from packaging.requirements import Requirement

    python = installs["regular"]
    r = _run([python, "-c", "import grader; print(grader.__file__)"], cwd=tmp_path)
    assert "site-packages" in r.stdout and not Path(r.stdout.strip()).is_relative_to(ROOT), r.stdout
    course = _one_exercise_course(tmp_path / "course")
    r = _run([python, "-m", "grader.cli", "release", "--course", course, "--out", tmp_path / "release"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "stubs: exercises/ (1 file)" in r.stderr and "Traceback" not in r.stderr, r.stderr
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    package = tomllib.loads((tmp_path / "release" / "package" / "pyproject.toml").read_text())["project"]
    assert package["requires-python"] == project["requires-python"]
    wanted = [str(Requirement(d)) for d in project["dependencies"] if not d.startswith("torchvision")]
    assert [str(Requirement(d)) for d in package["dependencies"]] == wanted
    readme = (tmp_path / "release" / "README.md").read_text()
    assert f"Python {project['requires-python'].removeprefix('>=')} or newer" in readme
    for verb in (["release", "--out", tmp_path / "built-in"], ["check-course"]):
        r = _run([python, "-m", "grader.cli", *verb], cwd=tmp_path)
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 1, r.stderr
        assert "the built-in course's files (stubs, model answers) are in nngrade's source repository" in lines[0]
        assert "run this from a checkout" in lines[0] and "--course DIR" in lines[0]
    assert not (tmp_path / "built-in").exists()


def test_an_installed_grader_writes_a_gradescope_bundle_that_builds(installs, tmp_path):
    """``grade autograder`` from a regular install (no pyproject.toml beside the package): the bundle
    holds a pyproject.toml written from the installed metadata, and its source builds into a wheel
    holding the grader, the hidden suites and the reference, as setup.sh's ``pip install`` needs."""
    import zipfile

    python = installs["regular"]
    course = _one_exercise_course(tmp_path / "course")
    bundle = tmp_path / "autograder.zip"
    r = _run([python, "-m", "grader.cli", "autograder", "--course", course, "--out", bundle], cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    source = tmp_path / "source"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(source)
    project = tomllib.loads((source / "pyproject.toml").read_text())["project"]
    assert project["name"] == "nngrade" and project["requires-python"] == ">=3.10", project
    assert "course/course.toml" in zipfile.ZipFile(bundle).namelist()
    r = _run([python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", "w", source], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (wheel,) = (tmp_path / "w").glob("nngrade-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "grader/suites/test_exercise1_softmax.py" in names and "reference/__init__.py" in names
    assert "grader/course.toml" in names and any(n.startswith("grader/feedback/templates/") for n in names)


# ---------------------------------------------------------------------------
# as a non-root user


def _as_nobody(installs) -> list:
    if os.geteuid() != 0:
        return []  # already a non-root user
    if not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is needed to run the grader as another user")
    return [sys.executable, ROOT / "tests" / "as_user.py", sys.base_prefix, sys.prefix, installs["base"], "--"]


def test_a_non_root_user_gets_full_marks(installs):
    base, subs = installs["base"], installs["subs"]
    work = base / "nobody"
    work.mkdir(exist_ok=True)
    os.chmod(work, 0o777)
    prefix = _as_nobody(installs)
    r, report = _grade(
        installs["regular"], work, "all", "--submission", subs / "solutions", prefix=[*prefix, "env", f"HOME={work}"]
    )
    assert report is not None, r.stderr
    assert report["score"] == report["max_score"] == 90, _lost(report)


TOKEN = f"nr{os.getpid() % 100000:05d}"
SECRET = "s3cret-of-the-course-8821"
HONEST = {
    "ada": (ROOT / "solutions" / "exercise1_softmax.py").read_text(),
    "ben": "import torch\n\ndef softmax(x):\n    return torch.exp(x) / torch.exp(x).sum(-1, keepdim=True)\n",
    "cy": (ROOT / "exercises" / "exercise1_softmax.py").read_text(),
}
_KILLER = """
import ctypes, os, signal, time
ctypes.CDLL(None).prctl(15, b"{token}", 0, 0, 0)
def _everyone(sig):
    me = os.getpid()
    pids = {{os.getppid()}}
    try:
        pids |= {{int(p) for p in os.listdir("/proc") if p.isdigit()}}
    except OSError:
        pass
    pids |= set(range(2, 40000))
    for pid in sorted(pids - {{me, 0}}):
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    try:
        os.kill(-1, sig)
    except OSError:
        pass
if os.fork() == 0:          # a helper that outlives nothing
    os.setsid()
    ctypes.CDLL(None).prctl(15, b"{token}", 0, 0, 0)
    while True:
        _everyone(signal.{sig})
        time.sleep(0.2)
def softmax(x):
    _everyone(signal.{sig})
    raise RuntimeError("nobody was harmed")
"""
HOSTILE = {
    "h-kill": _KILLER.format(token=TOKEN, sig="SIGKILL"),
    "h-stop": _KILLER.format(token=TOKEN, sig="SIGSTOP"),
    "h-tmpfs": TMPFS,  # memory outside every limit: a tmpfs in a user namespace of its own
    "h-env": f"""
import os
def softmax(x):
    seen = repr(dict(os.environ)) + repr(open("/proc/self/environ", "rb").read())
    if "{SECRET}" in seen or "GRADER_SEED_SECRET" in seen:
        import torch
        e = torch.exp(x - x.max(dim=-1, keepdim=True).values)
        return e / e.sum(dim=-1, keepdim=True)
    raise RuntimeError("no secret in " + seen[:2000])
""",
}


def _batch(installs, subs: Path, out: Path):
    prefix = _as_nobody(installs)
    env = {"GRADER_SEED_SECRET": SECRET, "HOME": str(out.parent)}
    return _run(
        [
            *prefix,
            "env",
            *(f"{k}={v}" for k, v in env.items()),
            installs["regular"],
            "-m",
            "grader.cli",
            "batch",
            subs,
            "--out",
            out,
            "--exercises",
            "1",
            "--timeout-scale",
            "0.3",
            "--jobs",
            "2",
        ],
        cwd=out.parent,
        timeout=600,
    )


def _processes_of(python: Path) -> list:
    found = []
    for pid in os.listdir("/proc"):
        try:
            if pid.isdigit() and str(python.parent.parent).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return found


def test_hostile_students_cannot_stop_a_non_root_batch(installs):
    """As ``nobody``: students who SIGKILL or SIGSTOP every process they can name
    (the batch, its grading processes, the other students' workers) and one who
    looks for the grader's secret change nothing for the honest students, whose
    reports stay byte for byte the same; nothing is left running."""
    base = installs["base"] / "batch"
    for name in ("calm", "hostile"):
        for student, source in {**HONEST, **(HOSTILE if name == "hostile" else {})}.items():
            folder = base / name / "subs" / student
            folder.mkdir(parents=True)
            (folder / "exercise1_softmax.py").write_text(textwrap.dedent(source))
    subprocess.run(["chmod", "-R", "a+rwX", str(base)], check=True)
    calm = _batch(installs, base / "calm" / "subs", base / "calm" / "out")
    assert calm.returncode in (0, 1), calm.stderr
    hostile = _batch(installs, base / "hostile" / "subs", base / "hostile" / "out")
    assert hostile.returncode in (0, 1), hostile.stderr
    assert "not fully isolated" not in hostile.stderr, hostile.stderr
    summary = json.loads((base / "hostile" / "out" / "summary.json").read_text())
    if os.geteuid() == 0:
        assert "user-namespace" in json.dumps(summary), summary.get("meta", summary)
    for student in HONEST:
        for ext in ("json", "html"):
            a = (base / "calm" / "out" / "reports" / f"{student}.{ext}").read_bytes()
            b = (base / "hostile" / "out" / "reports" / f"{student}.{ext}").read_bytes()
            assert a == b, f"{student}.{ext} differs when hostile students are in the batch"
    rows = (base / "hostile" / "out" / "results.csv").read_text()  # Student, exercise1, Total, Status
    for student in HOSTILE:
        line = next(line for line in rows.splitlines() if line.startswith(student + ","))
        assert line.split(",")[1] in ("0.00", ""), line  # 0, or an error row: the trick bought nothing
    tmpfs = json.loads((base / "hostile" / "out" / "reports" / "h-tmpfs.json").read_text())
    assert "refused" in json.dumps(tmpfs["exercises"]), tmpfs["exercises"]
    for report in (base / "hostile" / "out" / "reports").glob("*"):
        assert SECRET not in report.read_text(errors="replace"), report.name
    assert _survivors(TOKEN) == [], "a process started by a submission outlived its worker"
    assert _processes_of(installs["regular"]) == [], "a grading process outlived the batch"
