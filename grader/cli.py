"""The ``grade`` command.

Start-up matters (a student waits for it): this module imports only the
standard library; the warm worker is started before torch is imported here,
so the two imports of torch run side by side on two cores.
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
  grade all --submission ~/course/mine    every exercise, from another folder
  grade all --format json --output results.json
                                          machine-readable results (CI, Gradescope)
  grade all --output report.html          an HTML report (format taken from the extension)
  grade batch SUBMISSIONS --out DIR       grade a whole class (see: grade batch --help)
  grade all --submission work.ipynb       a notebook, a .zip, or one .py holding every exercise
  grade release --out DIR                 build the student edition (see: grade release --help)

The same submission and --seed always give the same report.

exit status:
  0  full marks    1  some points lost    2  bad command line    3  internal grader error
"""


def _parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {ex.name:<10} {ex.file:<28} {ex.title}" for ex in EXERCISES)
    p = argparse.ArgumentParser(
        prog="grade", description=DESCRIPTION, epilog=EPILOG.format(exercises=listing),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("exercises", nargs="+", metavar="EXERCISE",
                   help="exercise1 … exercise9 (or just 1 … 9), or 'all'")
    p.add_argument("--submission", "-s", metavar="PATH", type=Path, default=None,
                   help="folder holding your exerciseN_*.py files (default: ./exercises), a notebook (.ipynb), "
                        "a .zip, or one .py holding every exercise; links are not followed")
    p.add_argument("--format", "-f", choices=("text", "json", "html", "markdown"), default=None,
                   help="report format (default: text, or taken from --output's extension)")
    p.add_argument("--output", "-o", metavar="FILE", type=Path, default=None,
                   help="write the report to FILE instead of the terminal")
    p.add_argument("--seed", type=int, default=0, metavar="N",
                   help="seed for the random test inputs (default: 0)")
    p.add_argument("--timeout-scale", type=float, default=1.0, metavar="X",
                   help="multiply every time limit by X (for slow machines; default 1)")
    p.add_argument("--no-color", action="store_true", help="plain text even on a terminal")
    p.add_argument("--debug", action="store_true",
                   help="show the grader's own tracebacks (for reporting a grader bug)")
    p.add_argument("--version", action="version", version=f"grade {__version__}")
    return p


def _fail(message: str) -> int:
    print(f"grade: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "batch":
        from grader.batch import main as batch_main

        return batch_main(argv[1:])
    if argv and argv[0] == "release":
        try:
            from grader.release import main as release_main
        except ImportError:
            return _fail("grade release builds the student edition from the instructor's; this is the student edition")
        return release_main(argv[1:])
    args = _parser().parse_args(argv)

    try:
        chosen = select(args.exercises)
    except KeyError as e:
        return _fail(e.args[0])

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
        from grader.report import EXTENSIONS

        fmt = EXTENSIONS.get(args.output.suffix.lower())
        if fmt is None:
            return _fail(f"cannot tell the format from {args.output.name!r}: add --format text|json|html|markdown")
    fmt = fmt or "text"
    if args.timeout_scale <= 0:
        return _fail("--timeout-scale must be positive")
    if args.output is not None and args.output.is_dir():
        return _fail(f"--output {args.output} is a folder; give a file name")

    from grader.submission import read_for_grade

    sub, graded_from, cleanup = read_for_grade(submission, chosen)

    # Start the warm worker first: it imports torch on the other core while we do.
    from grader.sandbox import Limits, Zygote

    from grader.exercises import wants_preload

    zygote = Zygote(preload=wants_preload(chosen))
    try:
        interactive = sys.stderr.isatty() and args.output is None and len(chosen) > 1

        def progress(event, ex):
            if interactive and event == "start":
                print(f"\r\033[K  grading {ex.name} ({ex.title}) …", end="", file=sys.stderr, flush=True)

        from grader.run import grade

        report = grade(chosen, graded_from, seed=args.seed, limits=Limits().scaled(args.timeout_scale),
                       zygote=zygote, debug=args.debug, progress=progress)
        report = sub.annotate(report)
        if interactive:
            print("\r\033[K", end="", file=sys.stderr, flush=True)
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
        zygote.close()
        cleanup()

    from grader.report import render, write_atomic

    color = (fmt == "text" and args.output is None and sys.stdout.isatty()
             and not args.no_color and "NO_COLOR" not in os.environ)
    text = render(report, fmt, color=color)
    if args.output is not None:
        write_atomic(args.output, text)
        print(f"grade: {report['score']:.2f} / {report['max_score']:g}; report written to {args.output}",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    internal = any(t.get("kind") == "internal" for ex in report["exercises"] for t in ex["tests"]) or any(
        ex["status"] == "error" for ex in report["exercises"])
    if internal:
        return EXIT_INTERNAL
    return EXIT_FULL if report["score"] >= report["max_score"] else EXIT_LOST


def entry() -> None:
    """Console entry point. Once the report is out, skip the interpreter's
    teardown: unloading torch takes most of a second and does nothing useful."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


if __name__ == "__main__":
    entry()
