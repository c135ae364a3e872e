"""`grade` grading in its own process: the warm worker it forks, the report it prints.

Used when no warm server takes the call (``--no-server``, ``--debug``, none to be had),
by the warm server itself (``grader.commands.server`` calls ``grader.cli.main``, which
lands here), and by ``--watch --no-server`` (a zygote kept between saves).  SIGTERM and
SIGHUP end grade as Ctrl-C does; while a zygote or a temporary folder is being made, a
signal is held off until it is whole, then undone.  Standard library only at import:
torch and the grading machinery are imported when a grading starts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from grader.exits import EXIT_FULL, EXIT_INTERNAL, EXIT_LOST
from grader.exits import fail as _fail
from grader.exits import no_torch as _no_torch

if TYPE_CHECKING:
    from grader.feedback.records import Report

_watch_zygote = None


def _grade_once(args, argv, chosen, submission, fmt) -> int:
    """One regrade for --watch: through the warm server, or here with a zygote kept between saves."""
    global _watch_zygote
    from grader.commands import server_client as server

    if server.enabled(args):
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
    # Where it may not be forked (an answer is loaded, a secret in the environment), the zygote is
    # an interpreter started before this process imports torch: under a memory limit, the kernel
    # then finds the zygote (its oom_score_adj) the larger, and this process lives to say so.
    from grader.untrusted.startup import may_fork

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    fork = may_fork()
    if fork:
        try:
            import torch  # noqa: F401
        except ModuleNotFoundError as e:
            if (e.name or "").split(".")[0] != "torch":
                raise
            raise SystemExit(_no_torch()) from None

    from grader.exercises import wants_preload
    from grader.transport.processes import Zygote
    from grader.untrusted.warmup import uses_meta

    return _deferring_signals(
        lambda: Zygote(preload=wants_preload(chosen), fork=fork, warm_meta=uses_meta(chosen)), undo=lambda z: z.close()
    )


# -- SIGTERM and SIGHUP end grade as Ctrl-C does: what it started is stopped, its folders removed ---------

_stop_signal = None  # the SIGTERM or SIGHUP that ended this grade (its exit status is 128 + it)
_deferring = False  # while a zygote or a temporary folder is being made: note a signal, act after
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
        sub, graded_from, cleanup = _deferring_signals(
            lambda: read_for_grade(submission, chosen), undo=lambda made: made[2]()
        )
    except KeyboardInterrupt:
        return _interrupted()
    own = zygote is None
    from grader.transport.limits import Limits

    err = sys.stderr  # the terminal's: while pytest runs, sys.stderr is redirected to a buffer
    try:
        if own:
            zygote = _new_zygote(chosen)
        report = _grade_read(args, chosen, sub, graded_from, Limits().scaled(args.timeout_scale), zygote, err)
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as e:  # the grader's own failure: say so plainly
        if args.debug:
            raise
        return _internal_error(args, fmt, chosen, e)
    finally:
        if own and zygote is not None:
            zygote.close()
        cleanup()
    return _conclude(args, chosen, submission, fmt, report)


def _interrupted() -> int:
    print("\ngrade: interrupted", file=sys.stderr)
    return 130


def _grade_read(args, chosen, sub, graded_from, limits, zygote, err) -> Report:
    """The report of the submission as read (``sub``), with a progress line on a terminal (``err``)."""
    interactive = err.isatty() and args.output is None and len(chosen) > 1

    def progress(event, ex):
        if interactive and event == "start":
            print(f"\r\033[K  grading {ex.name} ({ex.title}) …", end="", file=err, flush=True)

    from grader.feedback.records import Report
    from grader.harness.run import grade

    report = grade(
        chosen, graded_from, seed=args.seed, limits=limits, zygote=zygote, debug=args.debug, progress=progress
    )
    # the reader's notes and the edition's checks: both edit JSON data (the submission readers sit
    # below the records, and a student package already built takes a dict), read back once
    report = Report.from_dict(sub.annotate(report.to_dict()))
    if interactive:
        print("\r\033[K", end="", file=err, flush=True)
    return report


def _internal_error(args, fmt: str, chosen, e: Exception) -> int:
    print(
        f"grade: internal error: {type(e).__name__}: {e}\n"
        "This is a problem with the grader, not your code; rerun with --debug and report it.",
        file=sys.stderr,
    )
    from grader.feedback.failure import memory_limit

    _write_failure(args, fmt, chosen, f"internal error ({type(e).__name__}: {e}); {memory_limit()}")
    return EXIT_INTERNAL


def _conclude(args, chosen, submission: Path, fmt: str, report: Report) -> int:
    """The report shown or written, and the exit status."""
    from grader.feedback.failure import grading_failed

    reason = grading_failed(report)
    if reason is not None and not args.debug:  # nothing of this report is a grade: say why, score nothing
        print(
            f"grade: the grading failed: {reason}.\nNothing was scored: this is not a grade "
            "(rerun with --debug to see the grader's own errors).",
            file=sys.stderr,
        )
        _write_failure(args, fmt, chosen, reason, seed=report.seed)
        return EXIT_INTERNAL

    # the student's folder as the repository sees it (annotations, JUnit's file=)
    prefix = os.path.relpath(
        (submission if submission.is_dir() else submission.parent).resolve(),
        os.environ.get("GITHUB_WORKSPACE") or os.getcwd(),
    )
    prefix = "" if prefix == "." or prefix.startswith("..") else prefix.replace(os.sep, "/") + "/"
    github = os.environ.get("GITHUB_ACTIONS") == "true"
    if github:  # advice for a terminal (--submission) means nothing in a CI log
        from grader.formats.common import for_platform

        report = for_platform(report)
    text = _render(args, report, fmt, prefix)
    if args.output is not None:
        failed = _write_output(args, report, text)
        if failed is not None:
            return failed
        text = f"grade: {_said(report)}; report written to {args.output}\n"
        if not github:
            print(text, end="", file=sys.stderr)
    if github:  # student text cannot run workflow commands; annotations, summary, Classroom result
        from grader.formats.github import publish

        publish(report, text, sys.stdout, prefix=prefix)
    elif args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    # a platform's results file is its verdict: the platform reads it only when grade exits 0
    # (PrairieLearn's grader host discards it otherwise), so losing points is not an error there
    if reason is not None:  # --debug: the report was shown for its tracebacks; still not a grade
        return EXIT_INTERNAL
    done = args.exit_zero or fmt in PLATFORM_FILES
    return EXIT_FULL if done or _full(report) else EXIT_LOST


def _render(args, report: Report, fmt: str, prefix: str) -> str:
    from grader.feedback.report import render

    if fmt in ("junit", "prairielearn", "gradescope", "classroom"):
        from grader.formats import render as render_platform

        options = {"family": getattr(args, "junit_family", "xunit2")} if fmt == "junit" else {}
        return render_platform(report, fmt, prefix=prefix, **options)
    color = (
        fmt == "text"
        and args.output is None
        and sys.stdout.isatty()
        and not args.no_color
        and "NO_COLOR" not in os.environ
    )
    return render(report, fmt, color=color)


def _write_output(args, report: Report, text: str) -> int | None:
    """The report written to --output; the exit status when it cannot be."""
    from grader.atomic import write_atomic

    try:
        write_atomic(args.output, text)
    except OSError as e:
        return _fail(f"cannot write the report to {args.output}: {e.strerror or e}")
    return None


def _said(report: Report) -> str:
    """The result in a few words: the checks' summary of a local check, else the points."""
    from grader.feedback import local_check
    from grader.feedback.numbers import points_text  # not before the zygote forks (a secret package)

    return (
        report.extra["summary"]
        if local_check.is_local(report)
        else f"{points_text(report.score)} / {report.max_score:g}"
    )


PLATFORM_FILES = ("prairielearn", "gradescope")  # formats whose file a platform reads as the grade


def _write_failure(args, fmt: str, chosen, reason: str, seed=None) -> None:
    """In a format that can say so (a platform's results file, JSON), write that the grading
    failed and why (to --output, else to stdout): never a score."""
    if fmt not in PLATFORM_FILES + ("json",):
        return
    import json

    from grader.atomic import write_atomic
    from grader.exercises import total_points
    from grader.feedback.failure import message

    max_score = total_points(chosen)
    if fmt == "gradescope":
        from grader.formats.gradescope import failure_results as gradescope_failure

        doc = gradescope_failure(message(reason), max_score, grader_failed=True)
    elif fmt == "prairielearn":
        from grader.formats.prairielearn import failure_results as prairielearn_failure

        doc = prairielearn_failure(message(reason))
    else:
        from grader import __version__

        doc = {
            "grading_failed": True,
            "reason": reason,
            "score": None,
            "max_score": max_score,
            "seed": args.seed if seed is None else seed,
            "grader_version": __version__,
        }
    text = json.dumps(doc, indent=1, ensure_ascii=False) + "\n"
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        write_atomic(args.output, text)
    except OSError as e:
        print(f"grade: cannot write {args.output}: {e.strerror or e}", file=sys.stderr)


def _full(report: Report) -> bool:
    """Full marks; in the student edition, every check that ran passed (it gives no marks)."""
    from grader.feedback import local_check

    if local_check.is_local(report):
        return local_check.all_passed(report)
    return report.score >= report.max_score
