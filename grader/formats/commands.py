"""``grade autograder`` and ``grade init-ci``: set a course up on a platform."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from grader.course import add_option, apply
from grader.exercises import add_exercises_option
from grader.hint_levels import add_hint_level_option

AUTOGRADER_EPILOG = """\
The zip holds setup.sh and run_autograder at its root and this course (with
its hidden tests) for /autograder/source.  Upload it as the autograder of a
Gradescope programming assignment (Autograder Settings: Ubuntu 22.04 base
image; see setup.sh for the memory and CPU to set).  Students upload their
exercise files, a zip of them, one .py holding every exercise or their
notebook (each exercise's cells tagged `exercise3` or starting with `# exercise3`,
as in the course notebook); nested folders are searched.  It is read as `grade
--submission` reads it: a link is refused and costs that exercise its points.

Hidden tests show after you publish grades (--hidden-visibility), visible
tests always; what the student's code printed stays with instructors.

Try it locally, laid out as Gradescope does:
  mkdir -p /tmp/ag/source /tmp/ag/submission && cd /tmp/ag
  unzip -q autograder.zip -d source && cp ~/mine/exercise*.py submission/
  AUTOGRADER_ROOT=/tmp/ag bash source/run_autograder && cat results/results.json

examples:
  grade autograder --out autograder.zip
  grade autograder --out hw1.zip --exercises 1 2 3 --hidden-visibility after_due_date
"""

INIT_CI_EPILOG = """\
Two workflows, because a student's repository can hold nothing secret (GitHub
Classroom runs whatever the student's copy of a workflow says):

  grade init-ci [--dir TEMPLATE]        the assignment's template repository
        (grade release already puts it in the student edition): on every push it
        installs the student edition from the repository itself (--package,
        default ./package) and runs its visible checks, with annotations on the
        student's lines and a job summary.  No token, no secret, no hidden test.
        It checks course.ipynb when that is where the student worked (edited,
        with the exercise files as handed out; MANIFEST.json tells).

  grade init-ci --instructor --org ORG --assignment hw3 --deadline TIME
        your PRIVATE repository (this one: the hidden tests stay in it): on a
        schedule (--cron) and on demand it runs `grade classroom`, which clones
        every student repository, grades the last commit pushed before the
        deadline, returns FEEDBACK.md on each student's feedback branch and keeps
        the gradebook and the reports as an artifact.  Add two secrets to that
        repository: CLASSROOM_TOKEN (--token; reads the student repositories and
        pushes their feedback branch) and GRADER_SEED_SECRET (any long random
        text, kept the same).

A course of your own (--course DIR, or GRADER_COURSE): the student workflow
names no folder (the student edition that grade release --course DIR built is
that course's, and grades it); the instructor's runs `grade classroom --course`
with the course folder's path in your private repository, so the folder (its
hidden tests and references) must be committed there, inside --dir.  The
workflow installs nngrade with `pip install .` when --dir is an nngrade
checkout; a repository that holds only the course names where it comes from
with --nngrade (a wheel committed there, ./wheels/nngrade-0.1.0-py3-none-any.whl,
or a git URL, git+https://github.com/ORG/nngrade@v0.1.0).

examples:
  grade init-ci --dir release/                      (grade release has done this already)
  grade init-ci --exercises 1 2 3 --force
  grade init-ci --instructor --org cs101-fall --assignment hw3 \\
      --deadline 2026-12-01T23:59:00-05:00 --roster classroom/roster.csv --extensions classroom/extensions.csv
  grade init-ci --instructor --course courses/dl2 --org cs101-fall --assignment hw4 \\
      --deadline 2026-12-15T23:59:00-05:00
"""


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _Usage(message)


def _fail(prog: str, message: str) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def autograder_main(argv) -> int:
    from grader.formats.gradescope import VISIBILITIES

    p = _Parser(
        prog="grade autograder",
        description="Build a Gradescope autograder (a zip) for this course.",
        epilog=AUTOGRADER_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", "-o", type=Path, required=True, metavar="ZIP", help="the zip to write")
    add_exercises_option(p)
    p.add_argument(
        "--hidden-visibility",
        choices=VISIBILITIES,
        default="after_published",
        help="when students see hidden tests' results (default: after_published); visible tests: always",
    )
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed for the test inputs (default 0)")
    p.add_argument(
        "--timeout-scale",
        type=float,
        default=2.0,
        metavar="X",
        help="multiply every time limit by X (default 2: Gradescope gives half a CPU)",
    )
    add_hint_level_option(p)
    add_option(p)
    try:
        args = p.parse_args(argv)
    except _Usage as e:
        return _fail("grade autograder", f"{e} (see: grade autograder --help)")
    error = apply(args.course)
    if error:
        return _fail("grade autograder", error)
    from grader.hint_levels import chosen_level

    try:
        level = chosen_level(args.hint_level)
    except ValueError as e:
        return _fail("grade autograder", str(e))
    if args.out.suffix.lower() != ".zip":
        return _fail("grade autograder", f"--out {args.out} should end in .zip (Gradescope takes a zip)")
    if args.out.is_dir():
        return _fail("grade autograder", f"--out {args.out} is a folder; give a file name")
    if args.timeout_scale <= 0:
        return _fail("grade autograder", "--timeout-scale must be positive")
    from grader.formats.autograder import build

    try:
        names = build(
            args.out,
            exercises=args.exercises,
            hidden_visibility=args.hidden_visibility,
            seed=args.seed,
            timeout_scale=args.timeout_scale,
            hint_level=level,
        )
    except KeyError as e:
        return _fail("grade autograder", e.args[0])
    except OSError as e:
        return _fail("grade autograder", f"cannot write {args.out} ({e.strerror or e})")
    print(
        f"grade autograder: wrote {args.out} ({len(names)} files: setup.sh, run_autograder, the course); "
        "upload it in the assignment's Configure Autograder page",
        file=sys.stderr,
    )
    return 0


def init_ci_main(argv) -> int:
    from grader import __version__
    from grader.formats.workflows import SAFE, student_workflow

    p = _Parser(
        prog="grade init-ci",
        description="Write a GitHub Actions workflow for a GitHub Classroom course: "
        "the student repositories' (visible checks only) or, with --instructor, your private "
        "repository's (grades with the hidden tests at the deadline).",
        epilog=INIT_CI_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--dir", type=Path, default=Path("."), metavar="REPO", help="the repository to write into (default: here)"
    )
    p.add_argument("--exercises", "-e", nargs="+", default=["all"], metavar="EXERCISE")
    p.add_argument("--force", action="store_true", help="replace an existing workflow file")
    p.add_argument(
        "--package",
        default="./package",
        metavar="PIP-SPEC",
        help="student workflow: where pip installs the student edition from (default ./package, "
        "the release's package folder in the repository)",
    )
    p.add_argument(
        "--instructor",
        action="store_true",
        help="write the instructor's workflow (.github/workflows/grade-ASSIGNMENT.yml) instead",
    )
    p.add_argument("--org", metavar="ORG", help="instructor: the classroom's GitHub organisation")
    p.add_argument("--assignment", metavar="PREFIX", help="instructor: the assignment's repository prefix (hw3)")
    p.add_argument("--deadline", metavar="TIME", help="instructor: ISO 8601 with a time zone")
    p.add_argument(
        "--roster",
        metavar="PATH",
        help="instructor: Classroom's roster export, in your repository "
        "(default: every ASSIGNMENT-LOGIN repository of --org)",
    )
    p.add_argument("--extensions", metavar="PATH", help="instructor: per-student deadlines CSV, in your repository")
    p.add_argument(
        "--nngrade",
        metavar="PIP-SPEC",
        help="instructor: where the workflow's pip installs nngrade from (default: ., the repository, "
        "when it is an nngrade checkout; a wheel committed in the repository or a git URL otherwise)",
    )
    p.add_argument(
        "--url",
        metavar="TEMPLATE",
        help="instructor: the student repositories, if not on github.com "
        "(grade classroom --url; placeholders {org} {assignment} {login})",
    )
    p.add_argument(
        "--cron",
        default="17 6 * * *",
        metavar="SPEC",
        help="instructor: when the scheduled run starts (UTC; default daily at 06:17)",
    )
    p.add_argument(
        "--token",
        default="CLASSROOM_TOKEN",
        metavar="SECRET",
        help="instructor: the secret holding the token for the student repositories",
    )
    add_option(p)
    try:
        args = p.parse_args(argv)
    except _Usage as e:
        return _fail("grade init-ci", f"{e} (see: grade init-ci --help)")
    error = apply(args.course)
    if error:
        return _fail("grade init-ci", error)
    from grader.course import current
    from grader.exercises import select

    course = current()
    try:
        names = [ex.name for ex in select(args.exercises)]
    except KeyError as e:
        return _fail("grade init-ci", e.args[0])
    exercises = "all" if len(names) == len(course.exercises) else " ".join(names)
    title = None if course.builtin else course.title
    if args.instructor:
        text = _instructor(args, exercises, __version__, course)
        if isinstance(text, int):
            return text
        target = args.dir / ".github" / "workflows" / f"grade-{args.assignment}.yml"
    else:
        given = [
            o for o in ("org", "assignment", "deadline", "roster", "extensions", "url", "nngrade") if getattr(args, o)
        ]
        if given:
            return _fail("grade init-ci", f"--{given[0]} is for the instructor's workflow: add --instructor")
        if not SAFE.fullmatch(args.package) or re.search(r"//[^/]*@", args.package):
            return _fail(
                "grade init-ci",
                f"--package {args.package!r}: give a path or a package name "
                "(no spaces, quotes, $ or credentials: everything here is readable by students)",
            )
        text = student_workflow(__version__, exercises, args.package, course_title=title)
        target = args.dir / ".github" / "workflows" / "classroom.yml"
    if target.exists() and not args.force:
        return _fail("grade init-ci", f"{target} exists; add --force to replace it")
    from grader.atomic import write_atomic

    try:
        write_atomic(target, text)
    except OSError as e:
        return _fail("grade init-ci", f"cannot write {target} ({e.strerror or e})")
    if args.instructor:
        print(
            f"grade init-ci: wrote {target}. Commit it to your PRIVATE course repository and add its secrets "
            f"{args.token} and GRADER_SEED_SECRET (see: grade init-ci --help).",
            file=sys.stderr,
        )
    else:
        print(
            f"grade init-ci: wrote {target}. Commit it to the assignment's template repository; it needs no "
            "secret (it runs the visible checks only).",
            file=sys.stderr,
        )
    return 0


def _course_folder(repo: Path, course) -> str:
    """``course``'s folder relative to the private repository ``repo`` (the workflow's checkout), for
    `grade classroom --course`; ValueError says why the workflow could not find it there."""
    top = repo.resolve()
    read = [course.root / "course.toml", course.forbidden, course.imports] + [
        course.path(kind, ex) for ex in course.exercises for kind in ("suite", "reference")
    ]
    outside = [p for p in read if p is not None and not p.resolve().is_relative_to(top)]
    if outside:
        raise ValueError(
            f"--course: {outside[0]} is not in the repository {top}; the workflow grades in a checkout of "
            "that repository, so commit the course folder (its hidden tests and references) there "
            "(or give --dir the repository that holds it)"
        )
    folder = course.root.resolve().relative_to(top).as_posix()
    return "." if folder in ("", ".") else folder


def _instructor(args, exercises: str, version: str, course):
    from grader.formats.workflows import SAFE, SAFE_URL, instructor_workflow

    missing = [o for o in ("org", "assignment", "deadline") if not getattr(args, o)]
    if missing:
        return _fail("grade init-ci", "--instructor needs " + ", ".join(f"--{o}" for o in missing))
    for opt in ("org", "assignment", "deadline", "roster", "extensions"):
        value = getattr(args, opt)
        if value is not None and not SAFE.fullmatch(value):
            return _fail("grade init-ci", f"--{opt} {value!r}: no spaces, quotes, $ or newlines")
    if not re.fullmatch(r"[A-Za-z0-9._-]+", args.assignment):
        return _fail("grade init-ci", f"--assignment {args.assignment!r}: give the repository prefix, e.g. hw3")
    if args.url is not None and (
        not SAFE_URL.fullmatch(args.url) or "{login}" not in args.url or re.search(r"//[^/]*@", args.url)
    ):
        return _fail("grade init-ci", f"--url {args.url!r}: a URL with {{login}} (no spaces, quotes, $ or credentials)")
    from grader.commands.classroom import Usage, parse_time

    try:
        parse_time(args.deadline, "--deadline")
    except Usage as e:
        return _fail("grade init-ci", str(e))
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", args.token):
        return _fail("grade init-ci", f"--token {args.token!r} is not a valid secret name")
    if not re.fullmatch(r"[0-9*/,-]+( [0-9*/,A-Za-z-]+){4}", args.cron):
        return _fail("grade init-ci", f"--cron {args.cron!r} is not a cron schedule (five fields, e.g. '17 6 * * *')")
    nngrade = args.nngrade or "."
    if not SAFE.fullmatch(nngrade) or re.search(r"//[^/]*@", nngrade):
        return _fail("grade init-ci", f"--nngrade {nngrade!r}: a path or a URL (no spaces, quotes, $ or credentials)")
    from grader.install import is_checkout

    if args.nngrade is None and not is_checkout(args.dir):
        return _fail(
            "grade init-ci",
            f"{args.dir.resolve()} is not an nngrade checkout (no pyproject.toml of nngrade), so the workflow's "
            "`pip install .` would fail: give --nngrade, where pip installs nngrade from (a wheel committed in the "
            "repository, ./wheels/nngrade-0.1.0-py3-none-any.whl, or git+https://github.com/ORG/nngrade@v0.1.0)",
        )
    folder = None
    if not course.builtin:
        try:
            folder = _course_folder(args.dir, course)
        except ValueError as e:
            return _fail("grade init-ci", str(e))
        if not SAFE.fullmatch(folder):
            return _fail("grade init-ci", f"--course: the folder {folder!r} needs a name without spaces, quotes or $")
    return instructor_workflow(
        version,
        nngrade=nngrade,
        course=folder,
        course_title=None if course.builtin else course.title,
        org=args.org,
        assignment=args.assignment,
        deadline=args.deadline,
        roster=args.roster,
        extensions=args.extensions,
        exercises=exercises,
        cron=args.cron,
        token=args.token,
        url=args.url,
    )
