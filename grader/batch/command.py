"""``grade batch``: grade a whole class in parallel, sandboxed and resumable.

The batch process reads every entry of SUBMISSIONS (a folder, a ``.zip`` or a
single ``.py`` per student), keeps only the exercise files in memory, derives
each student's seed and a content key, and skips students whose key matches
their last result.  It then imports torch, pytest, the reference and the
hidden suites once and forks ``--jobs`` grading processes; each starts its own
zygote (``grader.transport.processes.Zygote``) and grades one student after another with
``grader.harness.run.grade``, writing the student's reports and state atomically as
soon as they are known.  The batch process enforces a wall-time limit per student
(it kills a grading process that overruns, which takes its zygote, workers
and their namespaces with it), replaces dead grading processes, shows
progress and finally writes ``grades.csv`` and ``summary.html``.

Student code only ever runs in isolated workers (``grader.untrusted.isolation``); the
folders of the batch (SUBMISSIONS, --out, the work folder) are hidden from
them on top of the course's own files.

The steps of a run: ``_setup`` (the command line checked), ``_plan`` (who needs
grading), ``_grade`` (the pool), ``_summarize`` (summary.json and .html) and
``_conclude`` (the last lines and the exit status).
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from grader.batch.analytics import (
    analytics,
    fully_isolated,
    gradebook_unmatched,
    isolation_text,
    render_summary,
    without_submission,
)
from grader.batch.entries import scan
from grader.batch.keys import entry_key, fingerprint, load_secret, student_seed
from grader.batch.options import EXIT_ERRORS, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, Usage, parser
from grader.batch.output import STATE_DIR, Output, write_csv
from grader.batch.progress import Progress, fmt_duration
from grader.errors import ErrorKind
from grader.exercises import select
from grader.feedback.records import GradeRow, RowStatus


class Refused(Exception):
    """A command line the batch cannot run (one line for the user, exit 2)."""


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser().parse_args(argv)
    except Usage as e:
        return _fail(f"{e} (see: grade batch --help)")
    from grader.course import apply

    error = apply(args.course)
    if error:
        return _fail(error)
    try:
        return _run(args)
    except Refused as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        if args.force or args.only:  # the same command would start the regrade over
            again = " ".join(_resume_command(argv))
            print(
                f"\ngrade batch: interrupted; to resume (regrading only the students not yet regraded), run:\n"
                f"  grade batch {again}",
                file=sys.stderr,
            )
        else:
            print("\ngrade batch: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


def _fail(message: str) -> int:
    print(f"grade batch: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _resume_command(argv) -> list:
    """``argv`` without --force and --only (an unfinished forced run is resumed from its marker)."""
    import shlex

    out, skipping = [], False
    for a in argv:
        if a == "--force" or a == "--only" or a.startswith("--only="):
            skipping = a == "--only"
            continue
        if skipping and not a.startswith("-"):
            continue
        skipping = False
        out.append(shlex.quote(a))
    return out


def _run(args) -> int:
    started = time.monotonic()
    setup = _setup(args)
    plan = _plan(args, setup)
    result = _grade(args, setup, plan)
    result.elapsed = time.monotonic() - started
    data, unmatched = _summarize(args, setup, plan, result)
    return _conclude(args, setup, plan, result, data, unmatched)


# ---------------------------------------------------------------------------
# the command line checked


@dataclasses.dataclass
class Setup:
    """What a run works with once its command line is checked."""

    subs: Path
    out_root: Path
    out: Output
    jobs: int
    exercises: list
    book: dict  # grades.csv: roster, columns, assignment (grader.formats.canvas)
    overrides_text: str | None  # the overrides file's text (grader.batch.output: overrides), None: none
    overrides_from: str  # where it came from
    secret: str
    secret_from: str
    limits: object  # a worker's limits; SUBMISSIONS and --out hidden (the work folder joins in _grade)
    wall_limit: float  # seconds for one student, all exercises
    fp: str  # grader.batch.keys.fingerprint


def _setup(args) -> Setup:
    from grader.harness.run import suite_path
    from grader.transport.limits import Limits

    subs, out_root = args.submissions.expanduser(), args.out.expanduser()
    if not subs.is_dir():
        raise Refused(f"SUBMISSIONS {subs} is not a folder" if subs.exists() else f"SUBMISSIONS {subs} does not exist")
    if out_root.exists() and not out_root.is_dir():
        raise Refused(f"--out {out_root} exists and is not a folder")
    if _inside(out_root, subs):
        raise Refused("--out must not be inside SUBMISSIONS (it would be read as a student)")
    if _inside(subs, out_root):
        raise Refused("SUBMISSIONS must not be inside --out")
    jobs = args.jobs if args.jobs is not None else len(os.sched_getaffinity(0))
    if jobs < 1:
        raise Refused("--jobs must be at least 1")
    if args.timeout_scale <= 0 or args.submission_timeout <= 0:
        raise Refused("--timeout-scale and --submission-timeout must be positive")
    try:
        exercises = select(args.exercises)
    except KeyError as e:
        raise Refused(e.args[0]) from None
    from grader.formats.canvas import choose_columns

    columns, warning = choose_columns(args.gradebook, args.assignment)
    if warning:
        print(f"grade batch: warning: {warning}", file=sys.stderr)
    book = {"columns": columns, "assignment": args.assignment}
    if args.roster is not None:
        from grader.formats.canvas import RosterError, read_roster

        try:
            book["roster"] = read_roster(args.roster.expanduser())
        except RosterError as e:
            raise Refused(str(e)) from None
    overrides_text, overrides_from = _overrides_text(args, out_root)
    missing = [ex for ex in exercises if not suite_path(ex).is_file()]
    if missing:
        raise Refused(
            "the hidden tests for "
            + ", ".join(ex.name for ex in missing)
            + " are not installed; choose others with --exercises"
        )
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        out = Output(out_root)
        secret, secret_from = load_secret(args.seed_secret, out_root)
    except OSError as e:
        raise Refused(f"cannot write to --out {out_root} ({e.strerror or e})") from None
    out.clean_partial()
    subs, out_root = subs.resolve(), out_root.resolve()
    limits = Limits(isolate=not args.no_isolation, hide=(str(subs), str(out_root))).scaled(args.timeout_scale)
    from grader.hint_levels import DEFAULT_LEVEL, chosen_level, use_level

    try:
        level = chosen_level(getattr(args, "hint_level", None))
    except ValueError as e:
        raise Refused(str(e)) from None
    use_level(level)  # the pool's processes inherit it
    fp = fingerprint(exercises) + ("" if level == DEFAULT_LEVEL else f"+hints={level}")  # another level: regrade
    return Setup(
        subs,
        out_root,
        out,
        jobs,
        exercises,
        book,
        overrides_text,
        overrides_from,
        secret,
        secret_from,
        limits,
        args.submission_timeout * args.timeout_scale,
        fp,
    )


OVERRIDES_COPY = "overrides.csv"  # in --out/.batch: the last overrides file given


def _overrides_text(args, out_root: Path) -> tuple:
    """(the overrides file's text or None, where it is from): --overrides, else the copy
    the last run with --overrides kept."""
    if args.overrides is not None:
        path = args.overrides.expanduser()
        try:
            return path.read_text(encoding="utf-8-sig"), str(path)
        except (OSError, UnicodeDecodeError) as e:
            raise Refused(f"cannot read --overrides {path} ({getattr(e, 'strerror', None) or e})") from None
    kept = out_root / STATE_DIR / OVERRIDES_COPY
    try:
        return kept.read_text(encoding="utf-8"), f"{kept} (kept from an earlier run)"
    except (OSError, UnicodeDecodeError):
        return None, ""


def _inside(a: Path, b: Path) -> bool:
    a, b = a.resolve(), b.resolve()
    return a == b or b in a.parents


# ---------------------------------------------------------------------------
# who needs grading


@dataclasses.dataclass
class Plan:
    """The entries, and what this run does with each."""

    entries: list
    rows: list  # the gradebook rows known now: unusable entries, unchanged students
    tasks: list  # the students to grade (files, seed, key, ...)
    skipped: int  # unchanged (or not named by --only)
    regrade: dict | None  # an unfinished --force/--only run: {"run": id, "only": [...] or None}
    marker: Path  # where that run is written until it is complete
    overrides: list = dataclasses.field(default_factory=list)  # grader.batch.output.parse_overrides
    late: dict = dataclasses.field(default_factory=dict)  # student -> True: Canvas marked it LATE
    names: dict = dataclasses.field(default_factory=dict)  # student -> Canvas's name in its file names


def _plan(args, s: Setup) -> Plan:
    from grader.batch.entries import LayoutError

    print(f"grade batch: reading the entries of {s.subs} …", file=sys.stderr, flush=True)
    try:
        entries = scan(s.subs, s.exercises)
    except LayoutError as e:
        raise Refused(str(e)) from None
    _check_roster(s, entries)
    overrides = _parse_overrides(s, entries)
    if args.only:
        unknown = sorted(set(args.only) - {e.student for e in entries})
        if unknown:
            raise Refused("--only: no entry for " + ", ".join(unknown) + f" in {s.subs}")
    plan = Plan(
        entries,
        [],
        [],
        0,
        None,
        s.out.root / STATE_DIR / "regrade.json",
        overrides,
        {e.student: True for e in entries if e.late},
        {e.student: e.canvas_name for e in entries if e.canvas_name},
    )
    # a --force run (or --only) that is interrupted is resumed by the next run: the marker
    # names the run; each student it regraded carries the mark in its state
    try:
        plan.regrade = json.loads(plan.marker.read_text())
    except (OSError, ValueError):
        plan.regrade = None
    if args.force or args.only:
        plan.regrade = {"run": secrets.token_hex(8), "only": sorted(args.only) if args.only else None}
        from grader.atomic import write_atomic

        write_atomic(plan.marker, json.dumps(plan.regrade) + "\n")
    for e in entries:
        _plan_entry(args, s, plan, e)
    return plan


def _check_roster(s: Setup, entries) -> None:
    """A roster that matches none of the entries: every score would be blank in grades.csv."""
    roster = s.book.get("roster")
    if roster is None or not entries:
        return
    from grader.formats.canvas import match

    found, _ = match([e.student for e in entries], roster)
    if not found:
        ids = ", ".join(e.student for e in entries[:3])
        raise Refused(
            f"the roster matches none of the {len(entries)} entries (entry ids such as {ids}; the roster's "
            f"{len(roster)} students are matched by ID, SIS User ID, SIS Login ID or name): every grades.csv "
            "score would be blank; check that the roster is this course's Canvas export and that the "
            "entries are named by login, SIS id or Canvas user id (or are Canvas's download)"
        )


def _parse_overrides(s: Setup, entries) -> list:
    """The overrides, checked against the entries; a good --overrides file is kept in --out."""
    if s.overrides_text is None:
        return []
    from grader.atomic import write_atomic
    from grader.batch.output import OverridesError
    from grader.batch.output import parse_overrides as parse

    try:
        items = parse(s.overrides_text, s.overrides_from, s.exercises, [e.student for e in entries])
    except OverridesError as e:
        raise Refused(str(e)) from None
    if not s.overrides_from.endswith("(kept from an earlier run)"):
        write_atomic(s.out_root / STATE_DIR / OVERRIDES_COPY, s.overrides_text)
    return items


def shown_rows(rows: list, plan: Plan) -> list:
    """The rows as the gradebook, results.csv and the summary show them: the computed
    scores with the instructor's overrides on top, and Canvas's LATE mark."""
    from grader.batch.output import apply_overrides as apply

    rows, _ = apply(rows, plan.overrides)
    return [dataclasses.replace(r, late=True) if plan.late.get(r.student) else r for r in rows]


def _plan_entry(args, s: Setup, plan: Plan, e) -> None:
    """One entry: an error row, its last result (unchanged), or a task."""
    if e.error:
        row = GradeRow(
            student=e.student, entry=e.entry, status=RowStatus.ERROR, kind=ErrorKind.BAD_ENTRY, reason=e.error
        )
        if e.student.isprintable() and "/" not in e.student and e.student not in (".", ".."):
            s.out.remove_report(e.student)  # (no file of its own for a name that cannot be one)
        s.out.write_state(row)  # (named by a hash: any name has one)
        plan.rows.append(row)
        return
    e.seed = student_seed(s.secret, e.student)
    e.key = entry_key(e.files, e.seed, s.exercises, s.limits, s.fp, e.origins)
    old = s.out.read_state(e.student)
    if args.only and e.student not in args.only:
        plan.rows.append(
            old
            or GradeRow(
                student=e.student,
                entry=e.entry,
                status=RowStatus.ERROR,
                kind=ErrorKind.NOT_GRADED,
                reason="not graded yet (it was not named by --only)",
            )
        )
        plan.skipped += 1
        return
    pending = plan.regrade
    regrade = (
        pending is not None
        and (old.extra.get("run") if old else None) != pending["run"]
        and (pending.get("only") is None or e.student in pending["only"])
    )
    if (
        not regrade
        and old
        and old.key == e.key
        and old.status == RowStatus.GRADED
        and not old.internal
        and all(p.exists() for p in s.out.report_paths(e.student))
    ):
        plan.rows.append(old)
        plan.skipped += 1
        return
    plan.tasks.append(
        {
            "student": e.student,
            "entry": e.entry,
            "files": e.files,
            "seed": e.seed,
            "key": e.key,
            "run": pending["run"] if pending else None,
            "notes": e.notes,
            "origins": e.origins,
            "near": e.near,
            "refused": e.refused,
        }
    )


def _jobs_text(jobs: int, tasks: int) -> str:
    """'2 jobs', '1 job', or 'no grading needed' for a batch with nothing to grade."""
    if not tasks:
        return "no grading needed"
    n = min(jobs, tasks)
    return f"{n} job" + ("s" if n != 1 else "")


# ---------------------------------------------------------------------------
# grading


@dataclasses.dataclass
class Result:
    """What grading left: every entry's row, and what the pool learnt."""

    rows: list  # the gradebook rows, every entry's
    isolation: dict | None  # the workers' isolation (None: nobody was graded)
    fatal: str | None  # the grader's own failure that stopped the batch
    elapsed: float = 0.0  # seconds since the run began


def _grade(args, s: Setup, plan: Plan) -> Result:
    """Grade the plan's tasks; results.csv kept up to date."""
    bad = sum(r.status != RowStatus.GRADED for r in plan.rows)
    print(
        f"grade batch: {len(plan.entries)} entries in {s.subs}: {len(plan.tasks)} to grade, {plan.skipped} "
        f"unchanged, {bad} unusable; {_jobs_text(s.jobs, len(plan.tasks))}; seed secret from {s.secret_from}",
        file=sys.stderr,
    )
    by_student = {r.student: r for r in plan.rows}
    results = s.out_root / "results.csv"
    write_csv(results, shown_rows(list(by_student.values()), plan), s.exercises, s.book)
    progress = Progress(len(plan.tasks))
    last_csv = [time.monotonic()]

    def on_done(data: dict) -> None:  # the row's JSON data, as the grading process (or the pool) made it
        row = GradeRow.from_dict(data)
        by_student[row.student] = row
        progress.update(row)
        if time.monotonic() - last_csv[0] > 2.0:
            write_csv(results, shown_rows(list(by_student.values()), plan), s.exercises, s.book)
            last_csv[0] = time.monotonic()

    # the grading processes' scratch space (submission copies, worker folders): memory is
    # faster than disk for these short-lived files; workers never see it (it is hidden)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    workdir = Path(tempfile.mkdtemp(prefix="grader-batch-", dir=shm))
    try:
        limits = dataclasses.replace(s.limits, hide=tuple(s.limits.hide) + (str(workdir),))
        pool = _pool(args, s, limits, workdir)
        try:
            if plan.tasks:
                progress.starting(min(s.jobs, len(plan.tasks)))
                if hasattr(pool, "on_event"):
                    pool.on_event = progress.event
                _start(args, pool, min(s.jobs, len(plan.tasks)), s.exercises)
                pool.run(plan.tasks, on_done)
        finally:
            pool.close()
            progress.close()
            write_csv(results, shown_rows(list(by_student.values()), plan), s.exercises, s.book)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if plan.regrade and not pool.fatal:  # the forced regrade is complete
        plan.marker.unlink(missing_ok=True)
    return Result(list(by_student.values()), pool.isolation, pool.fatal)


def _pool(args, s: Setup, limits, workdir: Path):
    """The local pool, or a Dask cluster's (--scheduler)."""
    if not args.scheduler:
        from grader.batch.pool import Pool

        return Pool(s.jobs, workdir, limits, s.exercises, s.out, s.wall_limit)
    try:
        from grader.batch.cluster import ClusterError, ClusterPool

        return ClusterPool(args.scheduler, limits, s.exercises, s.out, s.wall_limit, s.fp)
    except ImportError:
        raise Refused("--scheduler needs Dask distributed: pip install 'nngrade[cluster]'") from None
    except ClusterError as e:
        raise Refused(str(e)) from None


def _start(args, pool, n: int, exercises) -> None:
    """Start the grading processes; they import torch while this process does (locally)."""
    if args.scheduler:
        from grader.batch.cluster import ClusterError

        try:
            pool.prestart(n)
        except ClusterError as e:
            raise Refused(str(e)) from None
        return
    from grader.batch.slots import prewarm

    pool.prestart(n)
    prewarm(exercises)


# ---------------------------------------------------------------------------
# the class's summary and the last words


def _summarize(args, s: Setup, plan: Plan, result: Result) -> tuple:
    """summary.json and summary.html; (their data, entries matching no roster student)."""
    from grader.atomic import write_atomic
    from grader.batch.output import apply_overrides as apply

    rows, isolation = shown_rows(result.rows, plan), result.isolation
    _, skipped = apply(result.rows, plan.overrides)
    data = analytics(rows, s.out, s.exercises, roster=s.book.get("roster"), names=plan.names)
    data["overrides"] = _overrides_list(rows)
    data["overrides_skipped"] = [
        {"entry": o["entry"], "exercise": o["exercise"], "why": o["why"], "reason": o["reason"]} for o in skipped
    ]
    # entries whose exercise file has a near-miss name (exercise3.py, "... (1).py"): graded 0, listed
    data["near_misses"] = {r.student: r.near for r in rows if r.near}
    _, unmatched = gradebook_unmatched(rows, s.exercises, s.book)
    data["roster"] = {
        "used": args.roster is not None,
        "unmatched": unmatched,
        "without_submission": without_submission(rows, s.book),
    }
    meta = {
        "submissions": str(s.subs),
        "exercises": [ex.name for ex in s.exercises],
        "jobs": s.jobs,
        "graded_now": len(plan.tasks),
        "skipped": plan.skipped,
        "elapsed": fmt_duration(result.elapsed),
        "isolation": isolation_text(isolation) if isolation is not None else "(no submission graded in this run)",
        "grader": s.fp,
        "secret_from": s.secret_from,
    }
    write_atomic(s.out_root / "summary.json", json.dumps({"meta": meta, **data}, indent=1) + "\n")
    write_atomic(s.out_root / "summary.html", render_summary(data, meta))
    return data, unmatched


def _overrides_list(rows: list[GradeRow]) -> list:
    return [dict(o, student=r.student) for r in sorted(rows, key=lambda r: r.student) for o in r.overrides or ()]


def _conclude(args, s: Setup, plan: Plan, result: Result, data: dict, unmatched: list) -> int:
    """The last lines on stderr; the exit status."""
    rows, isolation, fatal, elapsed = result.rows, result.isolation, result.fatal, result.elapsed
    if fatal:
        print(f"grade batch: stopped: {fatal}", file=sys.stderr)
        return EXIT_INTERNAL
    if isolation is not None and not fully_isolated(isolation) and not args.no_isolation:
        print(
            f"grade batch: warning: workers are not fully isolated on this machine: {isolation_text(isolation)}",
            file=sys.stderr,
        )
    tasks = plan.tasks
    rate = f" ({len(tasks) / elapsed:.2f} submissions/s)" if tasks and elapsed > 0 else ""
    from grader.feedback.textsafe import one_line, terminal

    failed = sorted(terminal(one_line(r.student)) for r in rows if r.status != RowStatus.GRADED)
    names = ""
    if failed:
        names = ": " + ", ".join(failed[:15]) + (f" and {len(failed) - 15} more" if len(failed) > 15 else "")
    if data.get("overrides"):
        n = len(data["overrides"])
        print(
            f"grade batch: {n} score{'s' if n != 1 else ''} overridden by hand (from {s.overrides_from}); "
            "shown with their reasons in results.csv and summary.html",
            file=sys.stderr,
        )
    for o in data.get("overrides_skipped") or ():
        print(
            f"grade batch: warning: the override of {o['entry']} {o['exercise']} is not applied: {o['why']}",
            file=sys.stderr,
        )
    near = data.get("near_misses") or {}
    if near:
        listed = "; ".join(f"{who}: {', '.join(files.values())}" for who, files in list(near.items())[:15])
        print(
            f"grade batch: {len(near)} entr{'y holds' if len(near) == 1 else 'ies hold'} an exercise under a "
            f"near-miss file name (that exercise got 0; listed in summary.json): {listed}",
            file=sys.stderr,
        )
    if unmatched:
        print(
            f"grade batch: {len(unmatched)} entries match no roster student (listed in summary.html and "
            f"results.csv): {', '.join(terminal(one_line(u)) for u in unmatched[:15])}",
            file=sys.stderr,
        )
    print(
        f"grade batch: graded {data['graded']} of {data['students']} students in {fmt_duration(elapsed)}{rate}; "
        f"results in {s.out_root}/grades.csv and summary.html; "
        + (f"{len(failed)} could not be graded{names}" if failed else "every entry graded"),
        file=sys.stderr,
    )
    if any(r.kind == ErrorKind.INTERNAL or r.internal for r in rows):
        return EXIT_INTERNAL
    return EXIT_ERRORS if data["errors"] else EXIT_OK
