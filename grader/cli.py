"""The ``grade`` command.

Start-up matters (a student waits for it): this module imports only the
standard library.  A call is handed to the user's warm server when there is one
(``grader.commands.server``: a fraction of a second); otherwise torch is imported once and
the warm worker is forked from this process before any answer is loaded
(``grader.untrusted.startup``; grading in this process: ``grader.commands.grade_here``).
``--watch`` regrades on each save (``grader.commands.watch``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from grader import __version__
from grader import course as _course
from grader.exercises import exercises_help, select
from grader.exits import EXIT_FULL
from grader.exits import fail as _fail
from grader.exits import no_torch as _no_torch
from grader.hint_levels import add_hint_level_option

DESCRIPTION = """\
Grade your PyTorch exercises and explain every lost point.

Your code runs in a separate, limited worker process; hidden tests compare it
with trusted reference implementations on many inputs (shapes, dtypes,
extreme values, gradients) and tell you, for each failed check, the input,
expected versus got, where the largest error is, and a hint.
"""

EPILOG = """\
exercises:
{exercises}

examples:
  grade exercise3                         grade one exercise from ./exercises
  grade 1 2 3                             several exercises
  grade exercise3 --watch                 regrade each time you save the file (Ctrl-C to stop)
  grade all --submission ~/course/mine    every exercise, from another folder
  grade all --submission answers.py       every exercise, from one file that holds them all
  grade all --submission work.ipynb       every exercise, from a notebook's marked cells
  grade all --format json --output results.json
                                          machine-readable results (the report as data)
  grade all --output report.html          an HTML report (format taken from the extension)
  grade --points                          each test's points and what it checks
  grade config                            each setting (environment variable), its value and where
                                          it came from (see: grade config --help)

{instructors}
  grade all --format junit -o junit.xml   JUnit XML for CI test reporters (also: prairielearn,
                                          gradescope, classroom: those platforms' results files)

On GitHub Actions (GITHUB_ACTIONS=true) grade also writes annotations, a job
summary and the Classroom result (step output `result`).

The first grade starts a warm server that later calls reuse (they take a fraction
of a second); it is yours alone, holds about 500 MB of memory (torch, loaded once)
and exits after 15 idle minutes (GRADER_SERVER_IDLE=SECONDS changes that).
`grade server status` shows it, `grade server stop` ends it, --no-server grades
without it; GRADER_NO_SERVER=1 in your shell's profile turns it off for good.

The same submission and --seed always give the same report.

exit status:
{exit_status}
"""

EXIT_STATUS = (
    "  0  full marks    1  some points lost    2  bad command line    3  the grading failed (no score)\n"
    "  (with --exit-zero, and for --format prairielearn or gradescope, whose file the platform\n"
    "  reads as the grade: 0 unless the grading itself failed)"
)
EXIT_STATUS_STUDENT = (
    "  0  every visible check passed (the hidden tests decide the grade)    1  a check failed\n"
    "  2  bad command line    3  the check itself failed\n"
    "  (with --exit-zero: 0 unless the check itself failed)"
)


INSTRUCTORS = """\
for instructors:
  grade batch SUBMISSIONS --out DIR       grade a whole class (see: grade batch --help)
  grade release --out DIR                 build the student edition (see: grade release --help)
  grade autograder --out autograder.zip   a Gradescope autograder (see: grade autograder --help)
  grade init-ci [--instructor]            GitHub Classroom workflows (see: grade init-ci --help)
  grade classroom --out DIR ...           grade a GitHub Classroom assignment at its deadline and return
                                          the reports (see: grade classroom --help)
  grade new-exercise NAME --course DIR    scaffold an exercise in a course folder of your own
  grade check-course DIR                  check a course: model answers full, stubs zero, points as declared
  grade all --course DIR                  grade with that course (so do batch, autograder, classroom)"""

# the instructor's verbs: what each does, for the student edition's refusal
INSTRUCTOR_VERBS = {
    "batch": "grades a whole class",
    "release": "builds the student edition from the instructor's",
    "autograder": "builds a Gradescope autograder",
    "init-ci": "writes a GitHub Classroom workflow",
    "classroom": "grades a GitHub Classroom assignment with the hidden tests",
    "new-exercise": "scaffolds an exercise of a course",
    "check-course": "checks a course's model answers, stubs and points",
}


# the platforms' results files: a grade, which the student edition cannot give
PLATFORM_RESULTS = {"prairielearn": "PrairieLearn", "gradescope": "Gradescope", "classroom": "GitHub Classroom"}


def _both_editions() -> str | None:
    """Both editions in this environment: they share the package ``grader``, so the one installed
    last replaced the other's files.  Said plainly (the student edition only: a few ms)."""
    from importlib import metadata

    def where(name: str) -> set[str]:  # the folders (site-packages) that hold an install of it
        return {str(d.locate_file("")) for d in metadata.distributions(name=name)}

    # only in one folder do they clash: a venv with the system's site-packages may see the
    # instructor's edition there, under its own student edition, which is the one imported
    if not where("nngrade") & where("nngrade-student"):
        return None
    return (
        "both nngrade (the instructor's edition) and nngrade-student are installed in this Python "
        f"({sys.executable}); they share the package `grader`, so the one installed last replaced the "
        "other. Use one virtual environment per edition: here, pip uninstall -y nngrade nngrade-student, "
        "then install the one you want"
    )


def _student_edition() -> bool:
    from grader.edition import EDITION  # asked of the edition, not of an import (another
    # checkout's grader.commands.release may be importable)

    return EDITION == "student"


def _parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {ex.name:<10} {ex.file:<28} {ex.title}" for ex in _course.current().exercises)
    instructors = "for CI:" if _student_edition() else INSTRUCTORS
    p = argparse.ArgumentParser(
        prog="grade",
        description=DESCRIPTION,
        epilog=EPILOG.format(
            exercises=listing,
            instructors=instructors,
            exit_status=EXIT_STATUS_STUDENT if _student_edition() else EXIT_STATUS,
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("exercises", nargs="*", metavar="EXERCISE", help=exercises_help())
    p.add_argument(
        "--submission",
        "-s",
        metavar="PATH",
        type=Path,
        default=None,
        help="folder holding your exerciseN_*.py files (default: ./exercises), a notebook (.ipynb), "
        "a .zip, or one .py holding every exercise; links are not followed",
    )
    p.add_argument(
        "--format",
        "-f",
        choices=("text", "json", "html", "markdown", "junit", "prairielearn", "gradescope", "classroom"),
        default=None,
        help="report format (default: text, or taken from --output's extension); junit, "
        "prairielearn, gradescope, classroom: those platforms' results files",
    )
    p.add_argument(
        "--junit-family",
        choices=("xunit2", "legacy"),
        default="xunit2",
        help="JUnit XML as pytest's junit_family: xunit2 (default; valid for Jenkins' junit-10.xsd) "
        "or legacy (adds file and line to each test case)",
    )
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        type=Path,
        default=None,
        help="write the report to FILE instead of the terminal",
    )
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed for the random test inputs (default: 0)")
    p.add_argument(
        "--timeout-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="multiply every time limit by X (for slow machines; default 1)",
    )
    p.add_argument(
        "--exit-zero",
        action="store_true",
        help="exit 0 even when points are lost (3 still means the grader failed): for CI",
    )
    p.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    p.add_argument(
        "--watch", "-w", action="store_true", help="regrade each time you save the exercise file (Ctrl-C to stop)"
    )
    p.add_argument(
        "--no-server",
        action="store_true",
        help="grade in this process, without the warm server that makes repeated calls fast",
    )
    p.add_argument(
        "--debug",
        action="store_true",
        help="show the grader's own tracebacks (for reporting a grader bug); implies --no-server",
    )
    p.add_argument(
        "--points",
        action="store_true",
        help="print each test's points and what it checks (all exercises, or those named), and exit",
    )
    add_hint_level_option(
        p,
        help="hints name the mistake's concept only, or also show the fix (default: $GRADER_HINT_LEVEL, "
        "else the course's setting, else fix)",
    )
    if not _student_edition():
        _course.add_option(p)
    p.add_argument("--version", action="version", version=f"grade {__version__}")
    return p


SERVER_HELP = """\
usage: grade server status|stop

The warm server that repeated grade calls reuse (they then take a fraction of a
second instead of seconds).  The first grade starts it; it is yours alone (a
socket in your private runtime folder), holds about 500 MB of memory (torch,
loaded once) and exits after 15 idle minutes.

  grade server status    whether it runs: its process, uptime and idle limit
  grade server stop      end it now (the next grade starts a new one)

environment:
  GRADER_SERVER_IDLE=SECONDS   how long it waits idle before it exits (default 900)
  GRADER_NO_SERVER=1           never start or use it (put it in your shell's profile
                               to turn it off for good; --no-server does it for one call)
  CI=true                      as GRADER_NO_SERVER=1 (set by CI services)
"""


def _server_command(argv) -> int:
    if len(argv) == 1 and argv[0] in ("-h", "--help"):
        sys.stdout.write(SERVER_HELP)
        return EXIT_FULL
    if len(argv) != 1 or argv[0] not in ("status", "stop"):
        return _fail("usage: grade server status|stop  (the warm server that repeated grade calls reuse)")
    from grader.commands.server_client import control

    return control(argv[0])


class _Refused(Exception):
    """A mistake in the command line, found by one of ``main``'s steps: its exit status."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def _refuse(message: str) -> NoReturn:
    raise _Refused(_fail(message))


def _batch(argv) -> int:
    from grader.batch.command import main as batch_main

    return batch_main(argv)


def _release(argv) -> int:
    from grader.commands.release import main as release_main

    return release_main(argv)


def _classroom(argv) -> int:
    from grader.commands.classroom import main as classroom_main

    return classroom_main(argv)


def _autograder(argv) -> int:
    from grader.formats.commands import autograder_main

    return autograder_main(argv)


def _config(argv) -> int:
    from grader.commands.config import main as config_main

    return config_main(argv)


def _init_ci(argv) -> int:
    from grader.formats.commands import init_ci_main

    return init_ci_main(argv)


def _new_exercise(argv) -> int:
    from grader.commands.authoring import new_exercise_main

    return new_exercise_main(argv)


def _check_course(argv) -> int:
    from grader.commands.authoring import check_course_main

    return check_course_main(argv)


# the verbs besides grading itself: each takes the arguments after its name
VERBS = {
    "batch": _batch,
    "release": _release,
    "classroom": _classroom,
    "server": lambda argv: _server_command(argv),
    "autograder": _autograder,
    "init-ci": _init_ci,
    "config": _config,
    "new-exercise": _new_exercise,
    "check-course": _check_course,
}


def main(argv=None, *, zygote=None, serve: bool = True) -> int:
    """`grade ARGV`.  ``zygote``: a warm worker to grade with (the warm server's);
    ``serve``: whether this call may hand the work to the warm server (``grader.commands.server``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        _check_edition(argv)
        if not argv or argv[0] != "new-exercise":  # its --course may name a course still to be made
            _choose_course(argv)
        if argv and argv[0] in VERBS:
            return VERBS[argv[0]](argv[1:])
        return _grade(argv, zygote, serve)
    except _Refused as e:
        return e.status


def _check_edition(argv) -> None:
    """The student edition installed alone, and asked for none of the instructors' verbs."""
    if not _student_edition():
        return
    clash = _both_editions()
    if clash:
        _refuse(clash)
    if argv and argv[0] in INSTRUCTOR_VERBS:
        _refuse(
            f"grade {argv[0]} {INSTRUCTOR_VERBS[argv[0]]}: it is for instructors, "
            "and this is the student edition (its checks are the visible tests only)"
        )


def _choose_course(argv) -> None:
    """The course --course (or GRADER_COURSE) names, used from now on by this command and the processes it starts."""
    if _student_edition():
        if _course.from_argv(argv) is not None or _course.chosen() is not None:
            _refuse(
                f"--course and {_course.VARIABLE} are for instructors: the student edition grades its own "
                f"course (unset {_course.VARIABLE})"
            )
        return
    error = _course.choose(argv)
    if error:
        _refuse(error)


def _grade(argv: list, zygote, serve: bool) -> int:
    """`grade EXERCISES...` (or `grade --points`)."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.exercises and not args.points:
        parser.error("name the exercises to grade (1, 2, …, or 'all'), or ask for --points")

    try:
        chosen = select(args.exercises or ["all"])
    except KeyError as e:
        return _fail(e.args[0])
    if args.points:
        from grader.harness.points import render_table

        sys.stdout.write(render_table(chosen) + "\n")
        return EXIT_FULL

    submission = _submission(args, argv, chosen)
    fmt = _format(args)
    _check_options(args, fmt)
    _choose_hint_level(args, argv)
    if serve:  # once, in the process the user started (the warm server's call has serve=False)
        _warn_other_release(submission)

    if serve and zygote is None:
        import importlib.util

        if importlib.util.find_spec("torch") is None:  # say so now, not after starting a server
            return _no_torch()
    if serve and args.watch:
        from grader.commands.grade_here import _grade_once
        from grader.commands.watch import watch

        return watch(args, chosen, submission, lambda: _grade_once(args, argv, chosen, submission, fmt))
    if serve and server_enabled(args):  # the course in use is the server's (its fingerprint holds it)
        from grader.commands import server_client as server

        code = server.run(argv)
        if code is not None:
            return code
    from grader.commands.grade_here import grade_here

    return grade_here(args, chosen, submission, fmt, zygote)


def _submission(args, argv: list, chosen) -> Path:
    """The folder to grade: --submission, else ./exercises, else here when it holds an exercise's file."""
    submission = args.submission
    if submission is None:
        submission = _default_submission(argv, chosen)
    submission = submission.expanduser()
    if submission.is_file() and submission.name in {ex.file for ex in _course.current().exercises}:
        submission = submission.parent  # one exercise's file: its folder
    if not submission.exists() and not submission.is_symlink():
        _refuse(f"the submission folder {submission} does not exist")
    return submission


def _warn_other_release(submission: Path) -> None:
    """The student edition says when the release folder it grades is not the installed one's."""
    if not _student_edition():
        return
    from grader.commands.which_checks import warning

    line = warning(submission)
    if line:
        print(line, file=sys.stderr, flush=True)


def _default_submission(argv: list, chosen) -> Path:
    submission = Path("exercises")
    if submission.is_dir():
        return submission
    if any(Path(ex.file).is_file() for ex in chosen):
        return Path(".")
    notebooks = sorted(p.name for p in Path(".").glob("*.ipynb"))
    if notebooks:  # a student who works in the course notebook
        _refuse(
            f"there is no ./exercises folder here, but there is {notebooks[0]}: to check "
            f"it, run grade {' '.join(argv)} --submission {notebooks[0]}"
        )
    _refuse(
        "there is no ./exercises folder here. Run grade from your course folder, "
        "or pass --submission PATH (the folder with your exerciseN_*.py files)."
    )


def _format(args) -> str:
    """--format, else told by --output's name, else text."""
    fmt = args.format
    if fmt is None and args.output is not None:
        from grader.feedback.report import EXTENSIONS

        fmt = EXTENSIONS.get(args.output.suffix.lower())
        if fmt is None and _special_file(args.output):
            fmt = "text"  # /dev/null, /dev/stdout, a FIFO: no name to tell a format by
        if fmt is None:
            _refuse(
                f"cannot tell the format from {args.output.name!r}: add --format "
                "text|json|html|markdown|junit|prairielearn|gradescope|classroom"
            )
    return fmt or "text"


def _check_options(args, fmt: str) -> None:
    if fmt in PLATFORM_RESULTS and _student_edition():
        _refuse(
            f"--format {fmt} writes a grade for {PLATFORM_RESULTS[fmt]}, and this is the student edition: "
            "its checks are the visible tests only, and the hidden tests decide the grade"
        )
    if args.timeout_scale <= 0:
        _refuse("--timeout-scale must be positive")
    if args.output is not None and args.output.is_dir():
        _refuse(f"--output {args.output} is a folder; give a file name")


def _choose_hint_level(args, argv: list) -> None:
    """The hints' level, used from now on; added to ``argv`` when the call chose none
    (the warm server grades at the level this call chose)."""
    from grader.hint_levels import chosen_level, use_level

    try:
        level = chosen_level(args.hint_level)
    except ValueError as e:
        _refuse(str(e))
    if args.hint_level is None:
        argv += ["--hint-level", level]
    args.hint_level = level
    use_level(level)


def _special_file(path: Path) -> bool:
    """An existing file that is not a regular one (a device, a FIFO, a socket)."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def server_enabled(args) -> bool:
    from grader.commands.server_client import enabled

    return enabled(args)


# grading in this process lives in grader.commands.grade_here (imported when needed: start-up
# stays standard library only); its names stay importable from here
_GRADE_HERE = (
    "grade_here",
    "_new_zygote",
    "close_watch_zygote",
    "_grade_once",
    "_deferring_signals",
    "_install_signal_handlers",
    "_on_signal",
    "_stop_signal",
)


def __getattr__(name: str):
    if name in _GRADE_HERE:
        from grader.commands import grade_here as here

        return getattr(here, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def entry() -> None:
    """Console entry point. Once the report is out, skip the interpreter's
    teardown: unloading torch takes most of a second and does nothing useful.
    SIGTERM and SIGHUP stop it as Ctrl-C does, with 128 + the signal."""
    from grader.commands import grade_here as here  # standard library only at import

    here._install_signal_handlers()
    try:
        code = main()
    except KeyboardInterrupt:
        print("\ngrade: interrupted", file=sys.stderr)
        code = 130
    if here._stop_signal is not None:
        code = 128 + here._stop_signal
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


if __name__ == "__main__":
    entry()
