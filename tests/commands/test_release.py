"""`grade release`: the student edition leaks no answer, installs in a fresh
environment, grades the model answers full and the stubs 0, and its verdicts on
the visible tests agree with the full grader's."""

import ast
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from grader.exercises import EXERCISES
from tests.conftest import ROOT, run_cli

# Slow by design: the tests build a release and grade with both editions in a fresh virtual environment.
pytestmark = pytest.mark.slow

HIDDEN = sorted((ROOT / "grader" / "suites").glob("test_*.py"))
ANSWERS = sorted((ROOT / "solutions").glob("*.py")) + sorted((ROOT / "reference").glob("*.py"))


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("release") / "course"
    r = run_cli("release", "--out", out, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "student check: exercise9" in r.stderr
    return out


@pytest.fixture(scope="module")
def venv(release, tmp_path_factory):
    """The release's package installed in a fresh virtual environment; its `grade`."""
    env_dir = tmp_path_factory.mktemp("venv") / "env"
    # without a pip of its own: the venv's bundled setuptools would shadow the installed one
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)], check=True)
    py = env_dir / "bin" / "python"
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(release / "package")],
        capture_output=True,
        text=True,
        cwd=env_dir,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    where = subprocess.run(
        [str(py), "-c", "import grader, grader.edition as e; print(grader.__file__, e.EDITION)"],
        capture_output=True,
        text=True,
        cwd=env_dir,
        check=True,
    ).stdout.split()
    assert where[0].startswith(str(env_dir)) and where[1] == "student", where  # not this checkout's grader
    return env_dir / "bin" / "grade"


def _bodies(tree) -> set:
    """Normalised ASTs of the function bodies (docstrings dropped) of a module."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(getattr(body[0], "value", None), ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                body = body[1:]
            if body:
                out.add(ast.dump(ast.Module(body=body, type_ignores=[])))
    return out


def _release_code(release: Path) -> dict:
    """{where: source} of every Python source the release holds, the notebook's cells included."""
    code = {str(p.relative_to(release)): p.read_text() for p in release.rglob("*.py")}
    nb = nbformat.read(str(release / "course.ipynb"), as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            code[f"course.ipynb cell {i}"] = "\n".join(
                ln for ln in cell.source.splitlines() if not ln.lstrip().startswith("%")
            )
    return code


def test_release_leaks_nothing(release):
    files = [p for p in release.rglob("*") if p.is_file()]
    names = {str(p.relative_to(release)) for p in files}
    assert {"course.ipynb", "package/pyproject.toml", "MANIFEST.json"} <= names
    assert {f"exercises/{ex.file}" for ex in EXERCISES} <= names
    assert not [n for n in names if any(part in ("solutions", "reference") for part in Path(n).parts)]
    assert "package/grader/commands/release.py" not in names and not [n for n in names if "secret" in n]
    # no file of the model answers, the reference or the hidden suites, by content
    shipped = {hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    for p in HIDDEN + ANSWERS + [ROOT / "grader" / "commands" / "release.py"]:
        assert hashlib.sha256(p.read_bytes()).hexdigest() not in shipped, p
    # no function body of a model answer, of the reference or of a hidden suite, compared as normalised ASTs
    secret = set()
    for p in HIDDEN + ANSWERS:
        secret |= _bodies(ast.parse(p.read_text()))
    code = _release_code(release)
    assert len(code) > 30
    for where, source in code.items():
        leaked = _bodies(ast.parse(source)) & secret
        assert not leaked, f"{where} holds the body of a model answer or a hidden test: {sorted(leaked)[0][:200]}"
    # the stored expected values are those of visible tests only (hidden tests' inputs are never run here)
    for ex in EXERCISES:
        data = json.loads(
            (
                release / "package" / "grader" / "suites" / ex.suite.replace("test_", "").replace(".py", ".json")
            ).read_text()
        )
        visible = _visible_tests(ROOT / "grader" / "suites" / ex.suite)
        assert data["tests"]
        for case in data["tests"]:
            if "expected" in case or "grads" in case:
                assert case["visible"] and case["function"] in visible, (ex.name, case["function"])
            else:
                assert case["kind"] == "gradcheck" and not case["visible"]
    # nor a course secret
    assert not [n for n in names if n.endswith(".grader-secret")]
    if os.environ.get("GRADER_SEED_SECRET"):
        assert os.environ["GRADER_SEED_SECRET"].encode() not in b"".join(p.read_bytes() for p in files)


# where code that the student edition ships imports the instructor's side: each in a verb or for a
# format that the student edition refuses before (grader.cli._check_edition, _check_options: check-course too);
# grader.untrusted.boundary names grader.batch among the packages a zygote must not hold
REFUSED_FIRST = {
    ("grader.cli", "_batch"),
    ("grader.cli", "_release"),
    ("grader.cli", "_classroom"),
    ("grader.cli", "_autograder"),
    ("grader.cli", "_init_ci"),
    ("grader.formats", "render"),
    ("grader.commands.grade_here", "_write_failure"),
    ("grader.untrusted.boundary", ""),
    ("grader.commands.authoring", "_release_problems"),
    ("grader.commands.authoring", "_student_edition_problems"),
}


def test_what_the_student_edition_ships_reaches_the_instructors_side_only_where_it_refuses():
    from grader.commands.release_modules import imported, instructor_side, shipped

    ships = shipped()
    assert "grader.cli" in ships and "grader.verdicts.student_check" in ships and "grader.untrusted.worker" in ships
    assert not [name for name in ships if instructor_side(name) or name.startswith("grader.suites.test_")]
    sites = {(name, where) for name, path in ships.items() for m, where in imported(name, path) if instructor_side(m)}
    assert sites == REFUSED_FIRST


@pytest.mark.slow
def test_the_student_package_holds_only_what_students_run(venv, release):
    """No module of grading a class (batch, cluster), of the Gradescope autograder and its runner, of
    Classroom's deadline grading or of building releases; each module it holds imports in the student venv."""
    pkg = release / "package" / "grader"
    held = sorted(str(p.relative_to(pkg.parent)) for p in pkg.rglob("*.py"))
    for gone in (
        "grader/batch/",
        "cluster",
        "autograder.py",
        "gradescope.py",
        "prairielearn.py",
        "canvas.py",
        "classroom.py",
        "release",
        "workflows.py",
        "grader/formats/commands.py",
        "datasets.py",
    ):
        assert not [n for n in held if gone in n], gone
    names = [n.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for n in held]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # a student's venv holds the student edition alone; this one sees the system's site-packages,
    # where CI installs the instructor's edition in editable mode: its finder is taken out first
    code = (
        "import importlib, sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, '__module__', '').startswith('__editable__')]\n"
        "for name in sys.argv[1:]:\n"
        "    assert importlib.import_module(name).__file__.startswith(sys.prefix), name\n"
        "try:\n"
        "    import grader.batch\n"
        "except ModuleNotFoundError:\n"
        "    print('no batch')\n"
    )
    r = subprocess.run(
        [str(venv.parent / "python"), "-c", code, *names],
        capture_output=True,
        text=True,
        cwd=venv.parent,
        env=env,
        timeout=600,
    )
    assert r.returncode == 0 and r.stdout == "no batch\n", r.stderr
    assert len(names) > 60


def _visible_tests(suite: Path) -> set:
    """The test functions of a hidden suite marked @pytest.mark.visible, written out or declared (Checks)."""
    import importlib

    from grader.harness.released import visible_tests

    return set(visible_tests(importlib.import_module(f"grader.suites.{suite.stem}")))


SPY = r"""
import json, os, sys
from pathlib import Path
import torch
import grader.verdicts.checks as checks
seen, orig = [], checks.assert_close
def spy(got, expected, **kw):  # every expected tensor a test compares with, and which test it is
    # pytest's own name of the test running (a declared test's code is grader/verdicts/declared.py's)
    where, _, name = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0].partition("::")
    if name and isinstance(expected, torch.Tensor):
        seen.append([Path(where).name, name.split("[")[0],
                     expected.detach().double().cpu().reshape(-1).tolist()])
    return orig(got, expected, **kw)
checks.assert_close = spy
from grader.exercises import EXERCISES
from grader.harness.run import grade
report = grade(EXERCISES, Path("solutions"))
assert report.score == report.max_score
json.dump(seen, sys.stdout)
"""


def test_no_expected_value_of_a_hidden_test_is_in_the_release(release):
    """The full grader on the model answers, every expected tensor recorded: none of a hidden
    test's is among the release's numbers (a visible test's are: the check can fail)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}  # the spy reads the grader's own
    r = subprocess.run([sys.executable, "-c", SPY], capture_output=True, text=True, cwd=ROOT, timeout=900, env=env)
    assert r.returncode == 0, r.stderr
    seen = json.loads(r.stdout)
    stored = set()

    def walk(v):
        if isinstance(v, dict) and "$tensor" in v:
            stored.add(_key(v["data"]))
        elif isinstance(v, (dict, list)):
            for x in v.values() if isinstance(v, dict) else v:
                walk(x)

    for f in (release / "package" / "grader" / "suites").glob("*.json"):
        walk(json.loads(f.read_text()))
    visible = {suite.name: _visible_tests(suite) for suite in HIDDEN}
    hidden = [(suite, name) for suite, name, values in seen if name not in visible[suite] and _key(values) in stored]
    assert not hidden, hidden[:5]
    assert len([1 for suite, name, _ in seen if name not in visible[suite]]) > 150
    assert [1 for suite, name, values in seen if name in visible[suite] and _key(values) in stored]


def _key(values) -> tuple:
    return tuple(round(float(x), 5) if math.isfinite(float(x)) else str(float(x)) for x in values)


def test_release_is_reproducible(release, tmp_path):
    r = run_cli("release", "--out", tmp_path / "again", timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "again" / "MANIFEST.json").read_bytes() == (release / "MANIFEST.json").read_bytes()


def test_release_never_overwrites(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    r = run_cli("release", "--out", tmp_path)
    assert r.returncode == 2 and "not an empty folder" in r.stderr and "Traceback" not in r.stderr
    assert (tmp_path / "mine.txt").read_text() == "keep me" and len(list(tmp_path.iterdir())) == 1


def _grade(venv, *args, cwd):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([str(venv), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=900)


def test_student_edition_grades_model_full_and_stubs_zero(venv, release, tmp_path):
    out = tmp_path / "model.json"
    r = _grade(venv, "all", "--submission", ROOT / "solutions", "--output", out, cwd=release)
    assert r.returncode == 0, r.stderr
    model = json.loads(out.read_text())
    # what the local check ran, never points (the hidden tests decide the grade)
    assert model["edition"] == "student" and model["checks"]["passed"] == model["checks"]["ran"] > 9
    assert (
        model["summary"] == f"{model['checks']['ran']} of {model['checks']['ran']} visible checks passed; "
        "the hidden tests decide the grade"
    )
    assert "visible checks passed; the hidden tests decide the grade; report written to" in r.stderr
    assert not _score_keys(model)
    r = _grade(venv, "all", "--format", "json", cwd=release)  # the released stubs, in ./exercises
    assert r.returncode == 1, r.stderr
    stubs = json.loads(r.stdout)
    assert stubs["checks"]["passed"] == 0 and not _score_keys(stubs)
    for ex in stubs["exercises"]:
        assert ex["summary"].startswith("0 of ") and any("not implemented yet" in t["message"] for t in ex["tests"]), (
            ex["name"]
        )
    r = _grade(venv, "exercise3", cwd=release)
    assert r.returncode == 1
    assert "ran the visible test(s) test_far_apart_logits[float32]" in r.stdout
    assert "the hidden tests run when you submit" in r.stdout
    # the instructor's verbs: refused in one line each (they would grade on the visible checks only),
    # and left out of --help
    for verb in (
        ["release", "--out", tmp_path / "again"],
        ["batch", release / "exercises", "--out", tmp_path / "b"],
        ["autograder", "--out", tmp_path / "autograder.zip"],
        ["init-ci"],
    ):
        r = _grade(venv, *verb, cwd=tmp_path)
        assert r.returncode == 2 and r.stdout == "", (verb, r.stdout)
        assert r.stderr.startswith(f"grade: error: grade {verb[0]} ") and "student edition" in r.stderr, r.stderr
        assert len(r.stderr.splitlines()) == 1, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]  # nothing was written
    help_text = _grade(venv, "--help", cwd=tmp_path).stdout
    assert "grade exercise3" in help_text and "--format junit" in help_text
    for verb in ("grade batch", "grade release", "grade autograder", "grade init-ci", "for instructors"):
        assert verb not in help_text, verb
    points = _grade(venv, "--points", "3", cwd=tmp_path).stdout  # the checks it runs, and no points
    assert points.startswith("Checks this student edition runs") and "hidden tests" in points, points
    assert "test_far_apart_logits" in points and "10 points" not in points and "1.50" not in points
    for fmt in ("gradescope", "prairielearn", "classroom"):  # a platform's results file is a grade
        r = _grade(venv, "3", "--format", fmt, "--no-server", cwd=release)
        assert r.returncode == 2 and "student edition" in r.stderr and "Traceback" not in r.stderr, r.stderr


def _score_keys(report) -> list:
    """Every key named score or max_score, at any depth."""
    found = []

    def walk(v):
        if isinstance(v, dict):
            found.extend(k for k in v if k in ("score", "max_score", "points"))
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)

    walk(report)
    return found


SOFTMAX_DIM1 = """import torch


def softmax(x):
    z = x - x.max(dim=1, keepdim=True).values
    return torch.exp(z) / torch.exp(z).sum(dim=1, keepdim=True)
"""


def test_local_check_reports_what_it_ran_not_a_grade(venv, release, tmp_path):
    """A softmax hard-coded to dim=1 passes the visible checks and fails hidden ones: the student
    edition says what it ran, never a score out of the exercise's points (text, HTML, exit status)."""
    (tmp_path / "exercise1_softmax.py").write_text(SOFTMAX_DIM1)
    r = _grade(venv, "1", "--submission", tmp_path, "--no-server", cwd=release)
    assert r.returncode == 0, r.stdout + r.stderr  # 0: every check that ran passed
    assert "3 of 3 visible checks passed" in r.stdout, r.stdout
    assert "Total: 3 of 3 visible checks passed; the hidden tests decide the grade" in r.stdout
    assert "/ 10" not in r.stdout and "10.00" not in r.stdout
    html = _grade(venv, "1", "--submission", tmp_path, "--no-server", "--format", "html", cwd=release).stdout
    assert "the hidden tests decide the grade" in html and "/ 10" not in html
    md = _grade(venv, "1", "--submission", tmp_path, "--no-server", "--format", "markdown", cwd=release).stdout
    assert md.startswith("# Local check: 3 of 3 visible checks passed") and "/ 10" not in md
    # the full grader fails it (the hidden tests on other shapes)
    full = run_cli("1", "--submission", tmp_path, "--no-server")
    assert full.returncode == 1 and "Total: 10" not in full.stdout
    help_text = _grade(venv, "--help", cwd=tmp_path).stdout
    assert "every visible check passed" in help_text and "full marks" not in help_text


WARNING = "grade: warning: this folder is from another release than the grade installed (its checks differ)"


def test_student_edition_says_when_the_folder_is_from_another_release(venv, release, tmp_path):
    """Grading a release folder with another release's `grade` installed (a course re-released,
    a second course): one warning line before the report, the same report and exit status."""
    own = _grade(venv, "3", "--no-server", cwd=release)  # its own release: nothing said
    assert own.returncode == 1 and own.stdout and WARNING not in own.stderr, own.stderr
    # a re-release: the same stubs, another course declaration in its package
    other = tmp_path / "re-released"
    shutil.copytree(release / "exercises", other / "exercises")
    manifest = json.loads((release / "MANIFEST.json").read_text())
    assert "package/grader/course.toml" in manifest["files"] and "package/grader/edition.py" in manifest["files"]
    manifest["files"]["package/grader/course.toml"] = hashlib.sha256(b"another course\n").hexdigest()
    (other / "MANIFEST.json").write_text(json.dumps(manifest))
    r = _grade(venv, "3", "--no-server", cwd=other)
    same = own.stdout.replace(str(release), str(other))  # the report names the submission's folder
    assert (r.returncode, r.stdout) == (own.returncode, same) and str(release) in own.stdout
    line = f"{WARNING}: install this folder's: pip install ./package"
    assert r.stderr.splitlines().count(line) == 1 and r.stderr.replace(line + "\n", "", 1) == own.stderr, r.stderr
    # from elsewhere, with --submission: the folder's package by its path
    r = _grade(venv, "3", "--no-server", "--submission", other / "exercises", cwd=tmp_path)
    assert r.stdout == same and f"{WARNING}: install this folder's: pip install ./re-released/package" in r.stderr
    assert "Traceback" not in r.stderr


def _class_of_corpus(folder: Path) -> Path:
    """One submission per rank: the k-th corpus file of every exercise (bugs and correct variants)."""
    corpus = ROOT / "tests" / "corpus"
    by_ex = {ex: sorted((corpus / ex.name).glob("*.py")) for ex in EXERCISES}
    for k in range(max(len(v) for v in by_ex.values())):
        sub = folder / f"s{k:02d}"
        sub.mkdir(parents=True)
        for ex, files in by_ex.items():
            if k < len(files):
                shutil.copyfile(files[k], sub / ex.file)
    return folder


def _grade_with_both_editions(venv, subs, tmp_path) -> None:
    """Grade the class in ``subs`` with the full grader (a batch, reports in ``tmp_path/full/reports``)
    and each submission as its student does, with the installed student edition's ``grade all``
    (reports in ``tmp_path/student/reports``), at the seed the batch gave that student."""
    full = subprocess.run(
        [sys.executable, "-m", "grader.cli", "batch", str(subs), "--out", str(tmp_path / "full"), "--seed-secret", "s"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=1200,
    )
    assert full.returncode == 0, full.stderr
    reports = sorted((tmp_path / "full" / "reports").glob("*.json"))
    assert [p.stem for p in reports] == sorted(p.name for p in subs.iterdir())
    (tmp_path / "student" / "reports").mkdir(parents=True)

    def student(report: Path):
        seed = json.loads(report.read_text())["seed"]
        return _grade(
            venv,
            "all",
            "--submission",
            subs / report.stem,
            "--format",
            "json",
            "--output",
            tmp_path / "student" / "reports" / report.name,
            "--seed",
            seed,
            "--no-server",
            cwd=tmp_path,
        )

    with ThreadPoolExecutor(max_workers=3) as pool:
        for report, r in zip(reports, pool.map(student, reports)):
            assert r.returncode in (0, 1), (report.stem, r.stderr)


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a batch, then each submission graded by the student edition
def test_student_verdicts_agree_with_the_full_grader(venv, tmp_path):
    subs = _class_of_corpus(tmp_path / "subs")
    _grade_with_both_editions(venv, subs, tmp_path)  # reports in tmp_path/full and tmp_path/student
    compared = 0
    for report in sorted((tmp_path / "full" / "reports").glob("*.json")):
        f = json.loads(report.read_text())
        s = json.loads((tmp_path / "student" / "reports" / report.name).read_text())
        for fe, se in zip(f["exercises"], s["exercises"]):
            assert fe["status"] == se["status"], (report.stem, fe["name"])
            fv = {t["name"]: t["status"] for t in fe["tests"] if t["visible"]}
            sv = {t["name"]: t["status"] for t in se["tests"] if t["visible"]}
            if fe["status"] == "graded":
                assert set(fv) == set(sv), (report.stem, fe["name"])
            for name in fv.keys() & sv.keys():
                assert fv[name] == sv[name], (report.stem, fe["name"], name)
                compared += fv[name] != "skipped"
    assert compared > 200


def test_release_is_a_classroom_template_whose_workflow_checks_where_the_student_worked(venv, release, tmp_path):
    """The release's workflow (for a GitHub Classroom template repository) holds no secret,
    installs the student edition from the repository, and checks course.ipynb when that is
    where the student worked: its steps run here with the student edition's grade."""
    from grader.formats.workflows import student_workflow
    from tests.commands.test_classroom import SOLUTION, notebook_with, run_pick_step, validate

    text = (release / ".github" / "workflows" / "classroom.yml").read_text()
    from grader import __version__

    assert text == student_workflow(__version__)
    doc = validate(text)
    assert "secrets" not in json.dumps(doc) and "MANIFEST.json" in text
    assert not list((release / "package").rglob("classroom.py"))  # the instructor's side stays behind
    r = _grade(venv, "classroom", "--help", cwd=tmp_path)
    assert r.returncode == 2 and "student edition" in r.stderr and "Traceback" not in r.stderr, r.stderr
    repo = tmp_path / "student"
    for name in ("exercises", ".github"):
        shutil.copytree(release / name, repo / name)
    for name in ("course.ipynb", "MANIFEST.json"):
        shutil.copyfile(release / name, repo / name)
    notebook_with(repo / "course.ipynb", 1, SOLUTION)
    path = run_pick_step(repo, tmp_path)
    assert path == "course.ipynb"
    check = doc["jobs"]["check"]["steps"][-1]
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    env = dict(
        os.environ,
        PATH=f"{venv.parent}{os.pathsep}{os.environ['PATH']}",
        SUBMISSION=path,
        GITHUB_ACTIONS="true",
        GITHUB_STEP_SUMMARY=str(summary),
        GITHUB_OUTPUT=str(output),
    )
    r = subprocess.run(
        ["bash", "-e", "-c", check["run"]], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr
    text = summary.read_text()
    assert "at course.ipynb, cell" in text and "exercise2_log_softmax.py" not in text, text
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    assert any(h.startswith("### exercise2") for h in headings) and not any(
        h.startswith("### exercise1") for h in headings
    ), headings


VARIANT_FILE = """import torch

RESULTS = {results!r}


def _result(x):
    data, shape = RESULTS[f"{{x.dtype}} {{tuple(x.shape)}}"]
    return torch.tensor([float(v) for v in data], dtype=x.dtype).reshape(shape)


{definition}"""
DEFINITIONS = {
    "call": "def {name}(*args):\n    return _result(args[0])\n",
    "module": "class {name}(torch.nn.Module):\n    def forward(self, x):\n        return _result(x)\n",
}


def _catalogues() -> list:
    """[(exercise, its hidden suite)] of every exercise whose hidden suite catalogues wrong variants
    (``_buggy_versions``)."""
    import importlib

    suites = [(ex, importlib.import_module(f"grader.suites.{ex.suite[:-3]}")) for ex in EXERCISES]
    return [(ex, mod) for ex, mod in suites if hasattr(mod, "_buggy_versions")]


def _catalogued_mistakes() -> dict:
    """{exercise: (kind, [{input key: (what the k-th catalogued wrong variant returns on that visible
    input)}])}: each visible test's catalogue (the hidden suite's _buggy_versions), evaluated on its input."""
    import torch

    from grader.harness.released import course_cases

    out = {}
    for ex, mod in _catalogues():
        per_input, kinds = {}, set()
        for case in course_cases(ex):
            if case["kind"] not in DEFINITIONS:
                continue
            kinds.add(case["kind"])
            # a function's catalogue takes its arguments as given; a module's (ReLU's) its input in float64
            args = [a.cpu() for a in case["args"]] if case["kind"] == "call" else [case["input"].double()]
            expected = case["expected"]
            results = []
            for v in mod._buggy_versions(*args):
                try:
                    r = v.compute().detach()
                except (RuntimeError, IndexError):
                    r = None
                right = (
                    r is not None
                    and r.shape == expected.shape
                    and torch.allclose(
                        r.double(), expected.double(), rtol=case["rtol"], atol=case["atol"], equal_nan=True
                    )
                )
                results.append(None if r is None or right else ([repr(float(t)) for t in r.reshape(-1)], list(r.shape)))
            x = case["args"][0] if case["kind"] == "call" else case["input"]
            per_input[f"{x.dtype} {tuple(x.shape)}"] = results
        assert len(kinds) == 1, (ex.name, kinds)
        n = len(next(iter(per_input.values())))
        out[ex] = (kinds.pop(), [{key: per_input[key][k] for key in per_input} for k in range(n)])
    return out


def test_every_catalogue_is_checked():
    """Each exercise whose hidden suite catalogues wrong variants has visible tests that the
    student edition names them in (the release stores the catalogue's numbers for them)."""
    from grader.harness.released import course_cases

    catalogued = [ex.number for ex, _mod in _catalogues()]
    assert 5 in catalogued and len(catalogued) >= 4
    for number in catalogued:
        visible = [c for c in course_cases(EXERCISES[number - 1]) if c["visible"]]
        assert visible and all(c.get("variants") for c in visible), number


@pytest.mark.slow
@pytest.mark.timeout(1800)  # a batch, then each submission graded by the student edition
def test_student_edition_names_every_catalogued_mistake_as_the_grader(venv, tmp_path):
    """For every catalogued mistake on the visible inputs (a submission that returns exactly what
    the wrong variant returns), the student edition's hint and reproducer equal the grader's."""
    subs = tmp_path / "subs"
    expected_names, covered = 0, set()
    for ex, (kind, variants) in _catalogued_mistakes().items():
        for k, results in enumerate(variants):
            if any(r is None for r in results.values()):
                continue  # raises, or is right, on this input: not a mistake there
            folder = subs / f"{ex.name}-v{k:02d}"
            folder.mkdir(parents=True)
            definition = DEFINITIONS[kind].format(name=ex.names[0])
            (folder / ex.file).write_text(VARIANT_FILE.format(results=results, definition=definition))
            expected_names += 1
            covered.add(ex.name)
    assert expected_names >= 20 and covered == {ex.name for ex, _mod in _catalogues()}
    _grade_with_both_editions(venv, subs, tmp_path)  # reports in tmp_path/full and tmp_path/student
    compared = 0
    for report in sorted((tmp_path / "full" / "reports").glob("*.json")):
        f = json.loads(report.read_text())
        s = json.loads((tmp_path / "student" / "reports" / report.name).read_text())
        name = report.stem.split("-")[0]
        fe = next(e for e in f["exercises"] if e["name"] == name)
        se = next(e for e in s["exercises"] if e["name"] == name)
        fv = {t["name"]: t for t in fe["tests"] if t["visible"]}
        sv = {t["name"]: t for t in se["tests"] if t["visible"]}
        assert set(fv) == set(sv), report.stem
        for test, ft in fv.items():
            st = sv[test]
            assert ft["status"] == st["status"] == "failed", (report.stem, test)
            assert st["hint"] == ft["hint"] and ft["hint"], (report.stem, test, st["hint"], ft["hint"])
            assert st.get("reproducer") == ft.get("reproducer") and ft.get("reproducer"), (report.stem, test)
            compared += 1
    assert compared >= 2 * expected_names


@pytest.mark.slow
def test_both_editions_in_one_environment_fail_clearly(release, tmp_path):
    """The instructor's edition, then the student edition over it (they share the package `grader`):
    the student edition's `grade` says so in one line, never a traceback or a wrong grade."""
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(env_dir)], check=True)
    py = env_dir / "bin" / "python"
    for source in (ROOT, release / "package"):
        r = subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(source)],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=600,
        )
        assert r.returncode == 0, r.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run(
        [str(env_dir / "bin" / "grade"), "1", "--no-server"],
        capture_output=True,
        text=True,
        cwd=release,
        env=env,
        timeout=300,
    )
    assert r.returncode == 2 and r.stdout == "", r.stdout
    assert r.stderr.startswith("grade: error: both nngrade (the instructor's edition) and nngrade-student"), r.stderr
    assert len(r.stderr.splitlines()) == 1
