"""``grade release --out DIR``: the student edition of the course.

What students get, and only that:

  DIR/exercises/        the course's stubs (the built-in course's nine, or --course DIR's)
  DIR/course.ipynb      the same course as one notebook (nbformat, validated)
  DIR/package/          an installable package (``pip install DIR/package`` gives
                        ``grade``): the engine, and for each exercise a student
                        check: its visible tests, with inputs and expected values
                        computed here from the reference and stored as JSON, plus
                        checks that need no answer (gradcheck of the student's own
                        gradients, shapes, dtypes, devices, torch's own classes)

No ``solutions/``, no ``reference/``, no hidden suite, no course secret.  This
module (instructor side) is not part of the release either.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from grader import __version__
from grader.course import add_option, apply, current, files_elsewhere
from grader.exercises import EXERCISES
from grader.harness.released import ReleaseError, course_cases
from grader.hint_levels import add_hint_level_option
from grader.install import project_metadata, pyproject_template

GRADER = Path(__file__).resolve().parents[1]

DESCRIPTION = """\
Build the student edition of the course in DIR: the stubs, the course notebook
and an installable `grade` whose checks are the visible tests (expected values
computed now from the reference and stored as data). The hidden tests, the
reference and the model answers stay with you.
"""

EPILOG = """\
what DIR holds afterwards:
  exercises/            the course's stubs (exerciseN_*.py)
  course.ipynb          the course as one notebook (%load_ext grader, %%exercise N, %grade N)
  package/              the student package: pip install DIR/package
  README.md             for the students: install, work, check, hand in
  INSTRUCTOR.md         for you: what goes to students, Classroom, Gradescope, Canvas
  MANIFEST.json         every file of the release with its sha256
  .github/workflows/classroom.yml
                        for a GitHub Classroom template repository: runs these
                        visible checks on each push (no secret; see grade init-ci --help)

examples:
  grade release --out release/            (the built-in course: from a checkout of nngrade, where its stubs are)
  pip install torch --index-url https://download.pytorch.org/whl/cpu    (students: CPU-only torch first;
                                          with an NVIDIA GPU: pip install torch)
  pip install release/package && cd release && grade exercise3
  grade release --course mycourse --out release/    (a course folder of your own: each visible test
                                          declared as data, see docs/instructors/authoring.md)

DIR must be empty or not exist yet (nothing is ever overwritten).
"""


# -- the visible tests' data ----------------------------------------------------------------


def points(cases: list, total: float = 10.0) -> list:
    """The cases with each test function's points rescaled so that they sum to ``total`` (the
    exercise's points), in the same proportions as in the hidden suite."""
    per_fn = {}
    for c in cases:
        per_fn.setdefault(c["function"], c["weight"])
    # in whole hundredths that add up to exactly total (grader.harness.points): each function gets its
    # share rounded down, and the hundredths left over go to the largest remainders (then suite order)
    weights = sum(per_fn.values())
    exact = {f: total * 100 * w / weights for f, w in per_fn.items()}
    cents = {f: int(v + 1e-9) for f, v in exact.items()}
    left = round(total * 100) - sum(cents.values())
    order = sorted(exact, key=lambda f: (-(exact[f] - cents[f]), list(per_fn).index(f)))
    for f in order[:left]:
        cents[f] += 1
    return [dict(c, weight=cents[c["function"]] / 100) for c in cases]


def check_data(ex, cases: list) -> str:
    """The text of an exercise's student check data (grader/suites/<exercise>.json in the student package)."""
    from grader.verdicts.student_check import encode

    data = {"exercise": ex.number, "name": ex.name, "tests": encode(cases)}
    return json.dumps(data, indent=1, allow_nan=True) + "\n"


# -- building the release ---------------------------------------------------------------

SUITE = '''"""Student check for exercise {n} ({title}): the visible tests, with expected values
stored as data in {data}; the hidden tests run when you submit."""
from grader.verdicts.student_check import define

define(globals(), __file__)
'''

EDITION = '''"""The student edition (built by `grade release` {version}): its checks are the
visible tests; the hidden tests run when the work is submitted."""
EDITION = "student"
HINT_LEVEL = "{hint_level}"


def annotate(report: dict) -> dict:
    """Say which checks ran, and that the hidden tests run at submission."""
    notes = []
    for ex in report.get("exercises", []):
        ran = [t for t in ex.get("tests", []) if t.get("status") != "skipped"]
        visible = [t["name"] for t in ran if t.get("visible")]
        other = [t["name"] for t in ran if not t.get("visible")]
        if ran:
            text = f"student check of {{ex['name']}}: ran the visible test(s) {{', '.join(visible) or '(none)'}}"
            if other:
                text += f" and the check(s) that need no answer {{', '.join(other)}}"
            notes.append(text + "; the hidden tests run when you submit")
    if notes:
        report["notes"] = list(report.get("notes", [])) + notes
    report["edition"] = "student"
    from grader.feedback.local_check import summarize

    return summarize(report)  # what ran and passed, never a grade (grader.feedback.local_check)
'''

PYPROJECT = pyproject_template(
    "nngrade-student",
    ["grader*"],
    ["course.toml", "feedback/templates/*", "suites/*.py", "suites/*.json", "suites/*.ini", "verdicts/*.toml"],
    "The student edition of the nngrade course: grade your exercises on the visible tests.",
)


def _deps() -> list:
    return [d for d in project_metadata()["dependencies"] if not d.startswith("torchvision")]


def _requires_python() -> str:
    """The student edition runs where the instructor's does: the same ``requires-python``."""
    return project_metadata()["requires-python"]


def python_text(spec: str) -> str:
    """What Python a ``requires-python`` asks for, in words: ">=3.10" is "Python 3.10 or newer"."""
    m = re.fullmatch(r">=\s*(\d+\.\d+)(?:\.0)?", spec.strip())
    return f"Python {m.group(1)} or newer" if m else f"Python {spec}"


def build(out: Path, progress=print, hint_level: str = "fix") -> dict:
    """Write the release into ``out`` (which must not exist or be empty); returns the manifest."""
    import nbformat
    import torch

    from grader.submission.notebook import course_notebook

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: give a new folder (nothing is ever overwritten)")
    tmp = Path(tempfile.mkdtemp(prefix=".release-", dir=out.parent if out.parent.exists() else None))
    try:
        course = current()
        stubs = {ex.file: course.path("stub", ex).read_text() for ex in EXERCISES}
        (tmp / "exercises").mkdir()
        for name, text in stubs.items():
            (tmp / "exercises" / name).write_text(text)
        progress(f"  stubs: exercises/ ({_count(len(stubs), 'file')})")
        nbformat.write(course_notebook(stubs, course.title), str(tmp / "course.ipynb"))
        progress("  notebook: course.ipynb")
        _template_workflow(tmp, progress)
        pkg = tmp / "package" / "grader"
        _engine(pkg, progress)
        (pkg / "edition.py").write_text(EDITION.format(version=__version__, hint_level=hint_level))
        if not course.builtin:
            _course_declaration(course, pkg)
        suites = pkg / "suites"
        torch.set_num_threads(1)
        for ex in EXERCISES:
            stem = ex.suite.removeprefix("test_").removesuffix(".py")
            cases = points(course_cases(ex), ex.points)
            (suites / f"{stem}.json").write_text(check_data(ex, cases))
            (suites / ex.suite).write_text(SUITE.format(n=ex.number, title=ex.title, data=f"{stem}.json"))
            progress(
                f"  student check: {ex.name} ({_count(sum(c['visible'] for c in cases), 'visible test case')}, "
                f"{sum(not c['visible'] for c in cases)} without an answer)"
            )
        from grader.feedback.repro_literals import ARGUMENT_NAMES, reference_argument_names

        # a reproducer names the arguments as the reference does (softmax(x)): the names, as data
        names = reference_argument_names() if course.builtin else _course_argument_names(course)
        (suites / ARGUMENT_NAMES).write_text(json.dumps(names, indent=1, sort_keys=True) + "\n")
        (tmp / "package" / "pyproject.toml").write_text(
            PYPROJECT.format(version=__version__, deps=json.dumps(_deps()), requires_python=_requires_python())
        )
        from grader.install import TORCH_CPU, TORCH_GPU

        (tmp / "package" / "README.md").write_text(
            "# nngrade, student edition\n\nInstall torch first, the CPU-only wheel (enough for every exercise, "
            f"about 200 MB):\n\n    {TORCH_CPU}\n\nWith an NVIDIA GPU, instead: `{TORCH_GPU}` (the CUDA wheel, "
            "several GB).\n\nThen `pip install .` gives `grade` (numpy comes with it): run `grade exercise3` in the "
            "folder that holds `exercises/`, or use `course.ipynb` (`%load_ext grader`).\nThe checks here are the "
            "visible tests; the hidden tests run when you submit.\n"
        )
        # the students' page and the instructor's, at the release's root
        (tmp / "README.md").write_text(student_readme(course))
        (tmp / "INSTRUCTOR.md").write_text(instructor_page(course, __version__))
        progress("  pages: README.md (students), INSTRUCTOR.md")
        manifest = {}
        for p in sorted(tmp.rglob("*")):
            if p.is_file():
                manifest[str(p.relative_to(tmp))] = hashlib.sha256(p.read_bytes()).hexdigest()
        (tmp / "MANIFEST.json").write_text(
            json.dumps({"grader_version": __version__, "files": manifest}, indent=1) + "\n"
        )
        out.mkdir(parents=True, exist_ok=True)
        for p in tmp.iterdir():
            os.replace(p, out / p.name)
        return manifest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def instructor_page(course, version: str) -> str:
    """The instructor's page at the release's root: the built-in course's as written; another course's
    commands name its folder (without --course, grade autograder and grade batch grade the built-in
    nine), and its list of imports is the course's."""
    from grader.commands.release_docs import INSTRUCTOR_PAGE

    text = INSTRUCTOR_PAGE.format(title=course.title, version=version)
    if course.builtin:
        return text
    folder = course.root.name
    imports = f"`{course.imports.name}` in your course folder" if course.imports else "torch alone: no `imports` file"
    swaps = {
        "`grade autograder --out autograder.zip`\n  builds from your instructor checkout": (
            f"`grade autograder --course {folder} --out autograder.zip`\n  builds from your course folder, `{folder}`"
        ),
        "`grade batch SUBMISSIONS --out DIR` from your instructor checkout.": (
            f"`grade batch SUBMISSIONS --out DIR --course {folder}` (your course folder)."
        ),
        "`grade init-ci --help` in your\n  instructor checkout": "`grade init-ci --help`, with\n  `--course`",
        "`grader/verdicts/imports.toml` in your checkout": imports,
    }
    for old, new in swaps.items():
        text = text.replace(old, new)
    return text


def student_readme(course) -> str:
    """The students' page at the release's root: the built-in course's as written; another
    course's names its own exercises and files where the built-in one names its nine."""
    from grader.commands.release_docs import STUDENT_README

    text = STUDENT_README.format(title=course.title, python=python_text(_requires_python()))
    if course.builtin:
        return text
    exercises = course.exercises
    first, last = exercises[0], exercises[-1]
    example = exercises[min(2, len(exercises) - 1)]
    stem = example.file.removesuffix(".py")
    files = f"`{first.file}`" + (f" … `{last.file}`" if len(exercises) > 1 else "")
    swaps = {
        "You build a neural network from its parts: softmax, log-softmax, cross-entropy,\n"
        "Linear, ReLU, Sequential, SGD, a MatMul autograd Function and a training epoch.\n": f"Your exercises: {', '.join(ex.title for ex in exercises)}.\n",
        "nine files, `exercise1_softmax.py` … `exercise9_epoch.py`": f"{_count(len(exercises), 'file')}, {files}",
        "your nine `exercise*_*.py` files": f"your {len(exercises)} `exercise*_*.py` files"
        if len(exercises) > 1
        else f"your file `{first.file}`",
        "`exercise3_cross_entropy.py`, not `exercise3.py`\nor `exercise3_cross_entropy (1).py`": f"`{example.file}`, not `{example.name}.py`\nor `{stem} (1).py`",
        "grade exercise3 --watch": f"grade {example.name} --watch",
        "exercise1  Softmax                           3 of 3": f"exercise1  {first.title:<33} 3 of 3",
    }
    if len(exercises) == 1:
        swaps.update(
            {
                "keeping their names.": "keeping its name.",
                "the same files to the assignment (drag them": "the same file to the assignment (drag it",
            }
        )
    for old, new in swaps.items():
        text = text.replace(old, new)
    return text


def _course_argument_names(course) -> dict:
    """What each exercise's reference defines, with its parameter names (as reference_argument_names)."""
    from grader.feedback.repro_literals import reference_argument_names
    from grader.suites.common import course_reference

    names: dict = {}
    for ex in course.exercises:
        names.update(reference_argument_names(course_reference(str(course.suite_path(ex)))))
    return names


def _course_declaration(course, pkg: Path) -> None:
    """The student package's grader/course.toml: the course's exercises, their student checks in
    grader/suites/, and its tables of forbidden built-ins and allowed imports (copied beside the
    built-in ones), in place of the built-in course's."""
    lines = [
        "# The course of this student edition (written by grade release; grader/course.py reads it).",
        f"title = {json.dumps(course.title)}",
        f"points = {course.points:g}",
    ]
    if course.hint_level:
        lines.append(f"hint_level = {json.dumps(course.hint_level)}")
    for key in ("forbidden", "imports"):
        table = getattr(course, key)
        if table is not None:
            shutil.copyfile(table, pkg / "verdicts" / f"course_{key}.toml")
            lines.append(f'{key} = "verdicts/course_{key}.toml"')
    lines += ["", "[files]", 'suite = "suites/{suite}"']
    for ex in course.exercises:
        lines += [
            "",
            "[[exercise]]",
            f"topic = {json.dumps(ex.topic)}",
            f"title = {json.dumps(ex.title)}",
            f"names = {json.dumps(list(ex.names))}",
        ]
        lines += [f"{key} = true" for key in ("meta", "preload") if getattr(ex, key)]
        lines += [f"points = {ex.points:g}"] if ex.points != course.points else []
    (pkg / "course.toml").write_text("\n".join(lines) + "\n")


def _engine(pkg: Path, progress) -> None:
    """The grader's modules that the student edition's entry points reach, with their packages'
    templates and tables (grader.commands.release_modules): the instructor's side stays behind."""
    from grader.commands.release_modules import data_files, shipped

    files = list(shipped(GRADER).values()) + data_files(GRADER)
    for p in files:
        target = pkg / p.relative_to(GRADER)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(p, target)
    progress(
        f"  engine: package/grader/ ({len(files)} files; not the instructor's side: batch, release, "
        "Gradescope, Classroom)"
    )


def _template_workflow(tmp: Path, progress) -> None:
    """The release is also a GitHub Classroom template repository: its workflow runs the
    student edition's visible checks, installed from ./package (grader.formats.workflows)."""
    from grader.formats.workflows import student_workflow

    course = current()
    text = student_workflow(__version__, course_title=None if course.builtin else course.title)
    (tmp / ".github" / "workflows").mkdir(parents=True)
    (tmp / ".github" / "workflows" / "classroom.yml").write_text(text)
    progress("  workflow: .github/workflows/classroom.yml (GitHub Classroom: the visible checks, no secret)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="grade release",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", "-o", metavar="DIR", type=Path, required=True, help="where the student edition goes")
    add_hint_level_option(
        p,
        help="the course's hint level in the student edition: the concept only, or also the fix "
        "(default: $GRADER_HINT_LEVEL, else fix)",
    )
    add_option(p)
    args = p.parse_args(argv)
    error = apply(args.course)
    if error:
        print(f"grade release: error: {error}", file=sys.stderr)
        return 2
    from grader.hint_levels import chosen_level

    try:
        level = chosen_level(args.hint_level)
    except ValueError as e:
        print(f"grade release: error: {e}", file=sys.stderr)
        return 2
    elsewhere = files_elsewhere(current())
    if elsewhere:
        print(f"grade release: error: {elsewhere}", file=sys.stderr)
        return 2
    if not all(current().suite_path(ex).is_file() for ex in EXERCISES):
        print("grade release: error: this is not the instructor's edition (no hidden suites here)", file=sys.stderr)
        return 2
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        print(
            f"grade release: error: {args.out} is not an empty folder; give a new one (nothing is ever overwritten)",
            file=sys.stderr,
        )
        return 2
    print(f"grade release: building the student edition in {args.out}", file=sys.stderr)
    try:
        manifest = build(args.out, progress=lambda m: print(m, file=sys.stderr), hint_level=level)
    except ReleaseError as e:
        print(f"grade release: error: {e}", file=sys.stderr)
        return 2
    from grader.install import student_text

    print(
        f"grade release: {len(manifest)} files written; students run:\n{student_text(args.out / 'package')}",
        end="",
        file=sys.stderr,
    )
    return 0


def _count(n: int, noun: str) -> str:
    """'1 file', '2 files'."""
    return f"{n} {noun}" + ("s" if n != 1 else "")
