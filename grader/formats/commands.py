"""``grade autograder`` and ``grade init-ci``: set a course up on a platform."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
The workflow runs on every push to the student's repository: it installs
CPU-only torch and nngrade *with its hidden tests* from where you keep them
(never from the student's repository), grades the repository, and reports:
annotations on the student's lines, a job summary, and the points to GitHub
Classroom (through classroom-resources/autograding-grading-reporter).

Where the hidden tests come from (--grader-source):
  git+https://github.com/ORG/nngrade-course@v1   a private repository; the
        workflow reads it with a token kept as an organisation secret
        (--secret, default NNGRADE_TOKEN: a fine-grained token with read
        access to that repository only)
  https://example.edu/nngrade-course-1.0.tar.gz  a package at a URL (put a
        secret in the URL's query if it is not public)
  nngrade-course==1.0 --index-url https://…     a private package index
Students can read anything the workflow can: a student who edits the
workflow can print the hidden tests.  For graded work that must stay secret,
grade with `grade batch` or Gradescope instead and use this for feedback.

examples:
  grade init-ci --grader-source git+https://github.com/cs101/nngrade-course@v1
  grade init-ci --exercises 1 2 3 --force
"""

WORKFLOW = """\
# Written by `grade init-ci` (nngrade {version}). Grades this repository on every push.
name: Autograding Tests
"on":
  - push
  - workflow_dispatch
  - repository_dispatch
permissions:
  checks: write
  actions: read
  contents: read
jobs:
  run-autograding-tests:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    timeout-minutes: 20
    steps:
      - name: Checkout code
        uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install the grader (hidden tests come from the instructor's source, not this repository)
        env:
          NNGRADE_TOKEN: ${{{{ secrets.{secret} }}}}
        run: |
          python -m pip install --quiet --index-url https://download.pytorch.org/whl/cpu torch torchvision
          SOURCE="{source}"
          if [ -n "$NNGRADE_TOKEN" ]; then SOURCE="${{SOURCE/https:\\/\\/github.com/https://x-access-token:$NNGRADE_TOKEN@github.com}}"; fi
          python -m pip install --quiet $SOURCE
      - name: Grade
        id: nngrade
        # GITHUB_ACTIONS=true: annotations, a job summary and the Classroom result (step output `result`);
        # --exit-zero: the step fails only if the grader itself failed, so the results are always published
        run: grade {exercises} --submission {submission} --exit-zero
      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
          NNGRADE_RESULTS: "${{{{ steps.nngrade.outputs.result }}}}"
        with:
          runners: nngrade
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

    p = _Parser(prog="grade autograder", description="Build a Gradescope autograder (a zip) for this course.",
                epilog=AUTOGRADER_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", "-o", type=Path, required=True, metavar="ZIP", help="the zip to write")
    p.add_argument("--exercises", "-e", nargs="+", default=["all"], metavar="EXERCISE",
                   help="exercise1 … exercise9 (or 1 … 9), or 'all' (default)")
    p.add_argument("--hidden-visibility", choices=VISIBILITIES, default="after_published",
                   help="when students see hidden tests' results (default: after_published); visible tests: always")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed for the test inputs (default 0)")
    p.add_argument("--timeout-scale", type=float, default=2.0, metavar="X",
                   help="multiply every time limit by X (default 2: Gradescope gives half a CPU)")
    p.add_argument("--hint-level", choices=("fix", "concept"), default=None,
                   help="hints name the concept only, or also show the fix (default: $GRADER_HINT_LEVEL, else fix)")
    try:
        args = p.parse_args(argv)
    except _Usage as e:
        return _fail("grade autograder", f"{e} (see: grade autograder --help)")
    from grader.verdicts.hints import chosen_level

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
        names = build(args.out, exercises=args.exercises, hidden_visibility=args.hidden_visibility,
                      seed=args.seed, timeout_scale=args.timeout_scale, hint_level=level)
    except KeyError as e:
        return _fail("grade autograder", e.args[0])
    except OSError as e:
        return _fail("grade autograder", f"cannot write {args.out} ({e.strerror or e})")
    print(f"grade autograder: wrote {args.out} ({len(names)} files: setup.sh, run_autograder, the course); "
          "upload it in the assignment's Configure Autograder page", file=sys.stderr)
    return 0


def workflow(source: str, secret: str, exercises, submission: str = ".") -> str:
    from grader import __version__

    return WORKFLOW.format(version=__version__, source=source, secret=secret,
                           exercises=" ".join(exercises), submission=submission)


def init_ci_main(argv) -> int:
    import re

    p = _Parser(prog="grade init-ci", description="Write .github/workflows/classroom.yml: grade a student's "
                "repository on GitHub Actions and report to GitHub Classroom.",
                epilog=INIT_CI_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--grader-source", default="git+https://github.com/ORG/nngrade-course@v1", metavar="PIP-SPEC",
                   help="where pip installs nngrade with the hidden tests from (see below)")
    p.add_argument("--secret", default="NNGRADE_TOKEN", metavar="NAME",
                   help="the Actions secret holding a read token for --grader-source (default NNGRADE_TOKEN)")
    p.add_argument("--exercises", "-e", nargs="+", default=["all"], metavar="EXERCISE")
    p.add_argument("--submission", default="exercises", metavar="PATH",
                   help="the folder of the student's repository holding the exercise files (default: exercises)")
    p.add_argument("--dir", type=Path, default=Path("."), metavar="REPO",
                   help="the template repository to write into (default: here)")
    p.add_argument("--force", action="store_true", help="replace an existing classroom.yml")
    try:
        args = p.parse_args(argv)
    except _Usage as e:
        return _fail("grade init-ci", f"{e} (see: grade init-ci --help)")
    from grader.exercises import select

    try:
        names = [ex.name for ex in select(args.exercises)]
    except KeyError as e:
        return _fail("grade init-ci", e.args[0])
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", args.secret):
        return _fail("grade init-ci", f"--secret {args.secret!r} is not a valid secret name")
    if any(c in args.grader_source + args.submission for c in "\"'`$\n"):
        return _fail("grade init-ci", "--grader-source and --submission must not contain quotes, $ or newlines")
    target = args.dir / ".github" / "workflows" / "classroom.yml"
    if target.exists() and not args.force:
        return _fail("grade init-ci", f"{target} exists; add --force to replace it")
    from grader.feedback.report import write_atomic

    exercises = "all" if len(names) == 9 else " ".join(names)
    write_atomic(target, workflow(args.grader_source, args.secret, [exercises], args.submission))
    print(f"grade init-ci: wrote {target}. Commit it to the assignment's template repository; "
          f"add the secret {args.secret} to the organisation (read access to {args.grader_source}).",
          file=sys.stderr)
    return 0
