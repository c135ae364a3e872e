"""The ``grade`` command.

Start-up matters (a student waits for it): this module imports only the
standard library.  A call is handed to the user's warm server when there is one
(``grader.commands.server``: a fraction of a second); otherwise torch is imported once and
the warm worker is forked from this process before any answer is loaded
(``grader.untrusted.startup``).  ``--watch`` regrades on each save (``grader.commands.watch``).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from grader import __version__
from grader.exercises import EXERCISES, select

EXIT_FULL, EXIT_LOST, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3

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

{instructors}
  grade all --format junit -o junit.xml   JUnit XML for CI test reporters (also: prairielearn,
                                          gradescope, classroom: those platforms' results files)

On GitHub Actions (GITHUB_ACTIONS=true) grade also writes annotations, a job
summary and the Classroom result (step output `result`).

The first grade starts a warm server that later calls reuse (they take a fraction
of a second); it is yours alone and exits after 15 idle minutes.  `grade server
status` shows it, `grade server stop` ends it, --no-server grades without it.

The same submission and --seed always give the same report.

exit status:
  0  full marks    1  some points lost    2  bad command line    3  internal grader error
  (with --exit-zero: 0 unless the grader itself failed)
"""


INSTRUCTORS = """\
for instructors:
  grade batch SUBMISSIONS --out DIR       grade a whole class (see: grade batch --help)
  grade release --out DIR                 build the student edition (see: grade release --help)
  grade autograder --out autograder.zip   a Gradescope autograder (see: grade autograder --help)
  grade init-ci                           a GitHub Classroom workflow (see: grade init-ci --help)"""

# the instructor's verbs: what each does, for the student edition's refusal
INSTRUCTOR_VERBS = {
    "batch": "grades a whole class",
    "release": "builds the student edition from the instructor's",
    "autograder": "builds a Gradescope autograder",
    "init-ci": "writes a GitHub Classroom workflow",
}


def _student_edition() -> bool:
    from grader.edition import EDITION  # asked of the edition, not of an import (another
    # checkout's grader.commands.release may be importable)

    return EDITION == "student"


def _parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {ex.name:<10} {ex.file:<28} {ex.title}" for ex in EXERCISES)
    instructors = "for CI:" if _student_edition() else INSTRUCTORS
    p = argparse.ArgumentParser(
        prog="grade", description=DESCRIPTION, epilog=EPILOG.format(exercises=listing, instructors=instructors),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exercises", nargs="*", metavar="EXERCISE",
                   help="exercise1 … exercise9 (or just 1 … 9), or 'all'")
    p.add_argument("--submission", "-s", metavar="PATH", type=Path, default=None,
                   help="folder holding your exerciseN_*.py files (default: ./exercises), a notebook (.ipynb), "
                        "a .zip, or one .py holding every exercise; links are not followed")
    p.add_argument("--format", "-f", choices=("text", "json", "html", "markdown", "junit", "prairielearn",
                                              "gradescope", "classroom"), default=None,
                   help="report format (default: text, or taken from --output's extension); junit, "
                        "prairielearn, gradescope, classroom: those platforms' results files")
    p.add_argument("--output", "-o", metavar="FILE", type=Path, default=None,
                   help="write the report to FILE instead of the terminal")
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed for the random test inputs (default: 0)")
    p.add_argument("--timeout-scale", type=float, default=1.0, metavar="X",
                   help="multiply every time limit by X (for slow machines; default 1)")
    p.add_argument("--exit-zero", action="store_true",
                   help="exit 0 even when points are lost (3 still means the grader failed): for CI")
    p.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    p.add_argument("--watch", "-w", action="store_true",
                   help="regrade each time you save the exercise file (Ctrl-C to stop)")
    p.add_argument("--no-server", action="store_true",
                   help="grade in this process, without the warm server that makes repeated calls fast")
    p.add_argument("--debug", action="store_true",
                   help="show the grader's own tracebacks (for reporting a grader bug); implies --no-server")
    p.add_argument("--points", action="store_true",
                   help="print each test's points and what it checks (all exercises, or those named), and exit")
    p.add_argument("--version", action="version", version=f"grade {__version__}")
    return p


def _server_command(argv) -> int:
    if len(argv) != 1 or argv[0] not in ("status", "stop"):
        return _fail("usage: grade server status|stop  (the warm server that repeated grade calls reuse)")
    from grader.commands.server import control

    return control(argv[0])


def _fail(message: str) -> int:
    print(f"grade: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _no_torch() -> int:
    return _fail(f"PyTorch is not installed in this Python ({sys.executable}): pip install torch")


def main(argv=None, *, zygote=None, serve: bool = True) -> int:
    """`grade ARGV`.  ``zygote``: a warm worker to grade with (the warm server's);
    ``serve``: whether this call may hand the work to the warm server (``grader.commands.server``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in INSTRUCTOR_VERBS and _student_edition():
        return _fail(f"grade {argv[0]} {INSTRUCTOR_VERBS[argv[0]]}: it is for instructors, "
                     "and this is the student edition (its checks are the visible tests only)")
    if argv and argv[0] == "batch":
        from grader.batch.core import main as batch_main

        return batch_main(argv[1:])
    if argv and argv[0] == "release":
        from grader.commands.release import main as release_main

        return release_main(argv[1:])
    if argv and argv[0] == "server":
        return _server_command(argv[1:])
    if argv and argv[0] in ("autograder", "init-ci"):
        from grader.formats.commands import autograder_main, init_ci_main

        return (autograder_main if argv[0] == "autograder" else init_ci_main)(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.exercises and not args.points:
        parser.error("name the exercises to grade (1 … 9, or 'all'), or ask for --points")

    try:
        chosen = select(args.exercises or ["all"])
    except KeyError as e:
        return _fail(e.args[0])
    if args.points:
        from grader.harness.points import render_table

        sys.stdout.write(render_table(chosen) + "\n")
        return EXIT_FULL

    submission = args.submission
    if submission is None:
        submission = Path("exercises")
        if not submission.is_dir():
            here = [ex.file for ex in chosen if Path(ex.file).is_file()]
            if not here:
                return _fail("there is no ./exercises folder here. Run grade from your course folder, "
                             "or pass --submission PATH (the folder with your exerciseN_*.py files).")
            submission = Path(".")
    submission = submission.expanduser()
    if submission.is_file() and submission.name in {ex.file for ex in EXERCISES}:
        submission = submission.parent  # one exercise's file: its folder
    if not submission.exists() and not submission.is_symlink():
        return _fail(f"the submission folder {submission} does not exist")

    fmt = args.format
    if fmt is None and args.output is not None:
        from grader.feedback.report import EXTENSIONS

        fmt = EXTENSIONS.get(args.output.suffix.lower())
        if fmt is None and _special_file(args.output):
            fmt = "text"  # /dev/null, /dev/stdout, a FIFO: no name to tell a format by
        if fmt is None:
            return _fail(f"cannot tell the format from {args.output.name!r}: add --format "
                         "text|json|html|markdown|junit|prairielearn|gradescope|classroom")
    fmt = fmt or "text"
    if args.timeout_scale <= 0:
        return _fail("--timeout-scale must be positive")
    if args.output is not None and args.output.is_dir():
        return _fail(f"--output {args.output} is a folder; give a file name")

    if serve and zygote is None:
        import importlib.util

        if importlib.util.find_spec("torch") is None:  # say so now, not after starting a server
            return _no_torch()
    if serve and args.watch:
        from grader.commands.watch import watch

        return watch(args, chosen, submission, lambda: _grade_once(args, argv, chosen, submission, fmt))
    if serve and server_enabled(args):
        from grader.commands import server

        code = server.run(argv)
        if code is not None:
            return code
    return grade_here(args, chosen, submission, fmt, zygote)


def _special_file(path: Path) -> bool:
    """An existing file that is not a regular one (a device, a FIFO, a socket)."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def server_enabled(args) -> bool:
    from grader.commands.server import enabled

    return enabled(args)


_watch_zygote = None


def _grade_once(args, argv, chosen, submission, fmt) -> int:
    """One regrade for --watch: through the warm server, or here with a zygote kept between saves."""
    global _watch_zygote
    if server_enabled(args):
        from grader.commands import server

        code = server.run([a for a in argv if a not in ("--watch", "-w")])
        if code is not None:
            return code
    if _watch_zygote is None:
        _watch_zygote = _new_zygote(chosen)
    elif _watch_zygote.proc.poll() is not None:  # a submission killed it
        _watch_zygote.close()
        _watch_zygote = _new_zygote(chosen)
    return grade_here(args, chosen, submission, fmt, _watch_zygote)


def close_watch_zygote() -> None:
    global _watch_zygote
    if _watch_zygote is not None:
        _watch_zygote.close()
        _watch_zygote = None


def _new_zygote(chosen):
    # Import torch once, then fork the warm worker from this process before any answer is
    # loaded here (grader.untrusted.startup): one import of torch for both sides of the boundary.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch  # noqa: F401
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] != "torch":
            raise
        raise SystemExit(_no_torch())

    from grader.exercises import wants_preload
    from grader.transport.processes import Zygote
    from grader.untrusted.startup import uses_meta

    return _deferring_signals(lambda: Zygote(preload=wants_preload(chosen), fork=True, warm_meta=uses_meta(chosen)),
                              undo=lambda z: z.close())


# -- SIGTERM and SIGHUP end grade as Ctrl-C does: what it started is stopped, its folders removed ---------

_stop_signal = None   # the SIGTERM or SIGHUP that ended this grade (its exit status is 128 + it)
_deferring = False    # while a zygote or a temporary folder is being made: note a signal, act after
_pending = False


def _on_signal(signum, frame) -> None:
    global _stop_signal, _pending
    import signal

    if signum != signal.SIGINT:
        if _stop_signal is not None:
            return  # already stopping: let the clean-up finish
        _stop_signal = signum
    if _deferring:
        _pending = True
        return
    raise KeyboardInterrupt


def _deferring_signals(make, undo):
    """``make()``, with SIGINT/SIGTERM/SIGHUP held off until it has returned (so that what it
    made is not lost half-made); one that came meanwhile ``undo``es it and interrupts."""
    global _deferring, _pending
    was, _deferring = _deferring, True
    try:
        made = make()
    finally:
        _deferring = was
    if _pending and not was:
        _pending = False
        undo(made)
        raise KeyboardInterrupt
    return made


def _install_signal_handlers() -> None:
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        current = signal.getsignal(sig)
        # an ignored signal stays ignored (nohup grade ...)
        if current in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(sig, _on_signal)


def grade_here(args, chosen, submission: Path, fmt: str, zygote=None) -> int:
    """Grade in this process (``zygote``: a warm worker to use and keep; else one of its own)."""
    from grader.submission.reader import read_for_grade

    try:  # one reader for every entry point
        sub, graded_from, cleanup = _deferring_signals(lambda: read_for_grade(submission, chosen),
                                                       undo=lambda made: made[2]())
    except KeyboardInterrupt:
        print("\ngrade: interrupted", file=sys.stderr)
        return 130
    own = zygote is None
    from grader.transport.limits import Limits

    err = sys.stderr  # the terminal's: while pytest runs, sys.stderr is redirected to a buffer
    try:
        if own:
            zygote = _new_zygote(chosen)
        interactive = err.isatty() and args.output is None and len(chosen) > 1

        def progress(event, ex):
            if interactive and event == "start":
                print(f"\r\033[K  grading {ex.name} ({ex.title}) …", end="", file=err, flush=True)

        from grader.harness.run import grade

        report = grade(chosen, graded_from, seed=args.seed, limits=Limits().scaled(args.timeout_scale),
                       zygote=zygote, debug=args.debug, progress=progress)
        report = sub.annotate(report)
        if interactive:
            print("\r\033[K", end="", file=err, flush=True)
    except KeyboardInterrupt:
        print("\ngrade: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # the grader's own failure: say so plainly
        if args.debug:
            raise
        print(f"grade: internal error: {type(e).__name__}: {e}\n"
              "This is a problem with the grader, not your code; rerun with --debug and report it.",
              file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        if own and zygote is not None:
            zygote.close()
        cleanup()

    from grader.feedback.report import render, write_atomic

    color = (fmt == "text" and args.output is None and sys.stdout.isatty()
             and not args.no_color and "NO_COLOR" not in os.environ)
    # the student's folder as the repository sees it (annotations, JUnit's file=)
    prefix = os.path.relpath((submission if submission.is_dir() else submission.parent).resolve(), os.environ.get("GITHUB_WORKSPACE") or os.getcwd())
    prefix = "" if prefix == "." or prefix.startswith("..") else prefix.replace(os.sep, "/") + "/"
    github = os.environ.get("GITHUB_ACTIONS") == "true"
    if github:  # advice for a terminal (--submission) means nothing in a CI log
        from grader.formats.common import for_platform

        report = for_platform(report)
    if fmt in ("junit", "prairielearn", "gradescope", "classroom"):
        from grader.formats import render as render_platform

        text = render_platform(report, fmt, prefix=prefix)
    else:
        text = render(report, fmt, color=color)
    if args.output is not None:
        try:
            write_atomic(args.output, text)
        except OSError as e:
            return _fail(f"cannot write the report to {args.output}: {e.strerror or e}")
        text = f"grade: {report['score']:.2f} / {report['max_score']:g}; report written to {args.output}\n"
        if not github:
            print(text, end="", file=sys.stderr)
    if github:  # student text cannot run workflow commands; annotations, summary, Classroom result
        from grader.formats.github import publish

        publish(report, text, sys.stdout, prefix=prefix)
    elif args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    from grader.errors import ErrorKind

    internal = any(t.get("kind") == ErrorKind.INTERNAL for ex in report["exercises"] for t in ex["tests"]) or any(
        ex["status"] == "error" for ex in report["exercises"])
    if internal:
        return EXIT_INTERNAL
    return EXIT_FULL if args.exit_zero or report["score"] >= report["max_score"] else EXIT_LOST


def entry() -> None:
    """Console entry point. Once the report is out, skip the interpreter's
    teardown: unloading torch takes most of a second and does nothing useful.
    SIGTERM and SIGHUP stop it as Ctrl-C does, with 128 + the signal."""
    _install_signal_handlers()
    try:
        code = main()
    except KeyboardInterrupt:
        print("\ngrade: interrupted", file=sys.stderr)
        code = 130
    if _stop_signal is not None:
        code = 128 + _stop_signal
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


if __name__ == "__main__":
    entry()
