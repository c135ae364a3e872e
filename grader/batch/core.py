"""``grade batch``: grade a whole class in parallel, sandboxed and resumable.

The parent process reads every entry of SUBMISSIONS (a folder, a ``.zip`` or a
single ``.py`` per student), keeps only the exercise files in memory, derives
each student's seed and a content key, and skips students whose key matches
their last result.  It then imports torch, pytest, the reference and the
hidden suites once and forks ``--jobs`` grading processes; each starts its own
zygote (``grader.transport.processes.Zygote``) and grades one student after another with
``grader.harness.run.grade``, writing the student's reports and state atomically as
soon as they are known.  The parent enforces a wall-time limit per student
(it kills a grading process that overruns, which takes its zygote, workers
and their namespaces with it), replaces dead grading processes, shows
progress and finally writes ``grades.csv`` and ``summary.html``.

Student code only ever runs in isolated workers (``grader.untrusted.isolation``); the
folders of the batch (SUBMISSIONS, --out, the work folder) are hidden from
them on top of the course's own files.
"""
from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from grader import __version__
from grader.exercises import POINTS_PER_EXERCISE, lookup, select
from grader.submission.reader import BadEntry, read as read_submission  # one reader for every entry point

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

SECRET_FILE = ".grader-secret"
STATE_DIR = ".batch"

DESCRIPTION = """\
Grade a whole class: every student's submission, in parallel, each in an
isolated worker, with one report per student, a gradebook (grades.csv) and
class analytics (summary.html).
"""

EPILOG = """\
SUBMISSIONS holds one entry per student; the entry's name is the student id:
  alice/            a folder of exercise files (nested folders are searched;
                    a folder of notebooks is read like dave.ipynb)
  bob.zip           a zip of such a folder
  carol.py          a single file holding every exercise
  dave.ipynb        a notebook (see "Working in a notebook" in the README)
Entries whose name starts with "." are ignored.

results in --out DIR:
  grades.csv        Canvas's gradebook import: Student, ID, SIS User ID, SIS
                    Login ID, Section, one column per exercise (or one total:
                    --gradebook total), a "Points Possible" row; with --roster,
                    one row per roster student (no submission: no score)
  results.csv       one row per entry: Student, one column per exercise, Total,
                    Status (graded, or error: reason)
  summary.html      score distribution, per-exercise means, per-test pass
                    rates, the most common misconceptions (hints) and the
                    submissions that timed out or crashed; summary.json: the same data
  reports/ID.html   each student's report (as `grade all` writes it)
  reports/ID.json
  .grader-secret    the course secret the per-student seeds come from (created
                    once unless --seed-secret or GRADER_SEED_SECRET gives one)
  .batch/           per-student state for resuming (content key, timing)

Every result is written as soon as it is known.  Running the same command
again grades only students whose files changed (or new ones); an interrupted
batch resumes where it stopped.  --force regrades everyone (interrupted, rerun
it without --force to regrade only those not yet regraded); --only ID …
regrades the students named.

Each student's test inputs are seeded from the course secret and the
student id, so students cannot share expected outputs and a regrade
reproduces the same report.  The seed is in every report.

examples:
  grade batch submissions/ --out results/
  grade batch submissions/ --out results/ --jobs 4 --exercises 1 2 3
  grade batch submissions/ --out results/ --only alice bob
  grade batch submissions/ --out results/ --roster canvas-export.csv --assignment "Homework 3 (12345)"
  GRADER_SEED_SECRET=s3cret grade batch submissions/ --out results/ --force
  grade batch submissions/ --out results/ --scheduler tcp://10.0.0.5:8786   (a Dask cluster)

exit status:
  0  every entry graded    1  some entries could not be graded (error rows)
  2  bad command line      3  internal grader error    130  interrupted (rerun to resume)
"""


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line, exit 2, no usage dump
        raise _Usage(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="grade batch", description=DESCRIPTION, epilog=EPILOG,
                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("submissions", metavar="SUBMISSIONS", type=Path,
                   help="folder with one entry (folder, .zip, .py or .ipynb) per student")
    p.add_argument("--out", "-o", metavar="DIR", type=Path, required=True,
                   help="where reports, grades.csv and summary.html go")
    p.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                   help="submissions graded in parallel (default: the number of cores)")
    p.add_argument("--exercises", "-e", nargs="+", default=["all"], metavar="EXERCISE",
                   help="exercise1 … exercise9 (or 1 … 9), or 'all' (default)")
    p.add_argument("--seed-secret", metavar="TEXT", default=None,
                   help="course secret for the per-student seeds (default: $GRADER_SEED_SECRET, "
                        "else DIR/.grader-secret, created once)")
    p.add_argument("--force", action="store_true", help="regrade every student, even unchanged ones")
    p.add_argument("--only", nargs="+", default=None, metavar="ID",
                   help="regrade only these students (entry names without .zip/.py), even if unchanged")
    p.add_argument("--roster", type=Path, default=None, metavar="CSV",
                   help="the class list (a Canvas gradebook export): grades.csv gets a row per roster student; "
                        "entries are matched by login, SIS id or name; unmatched ones are listed in the summary")
    p.add_argument("--gradebook", choices=("exercises", "total"), default="exercises",
                   help="grades.csv columns: one per exercise (default) or one assignment total")
    p.add_argument("--assignment", default="", metavar="TITLE",
                   help='the Canvas assignment, ideally with its id: "Homework 3 (12345)" (column names)')
    p.add_argument("--timeout-scale", type=float, default=1.0, metavar="X",
                   help="multiply every time limit by X (default 1)")
    p.add_argument("--submission-timeout", type=float, default=300.0, metavar="SECONDS",
                   help="wall-time limit for grading one student, all exercises (default 300, "
                        "times --timeout-scale)")
    p.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="grade on a Dask cluster: the scheduler's address (tcp://HOST:8786), or local[:N] for "
                        "N worker processes on this machine (needs: pip install nngrade[cluster])")
    p.add_argument("--no-isolation", action="store_true",
                   help="run workers without namespaces and the unprivileged uid (debugging only)")
    p.add_argument("--version", action="version", version=f"grade {__version__}")
    return p


# ---------------------------------------------------------------------------
# reading the entries

@dataclasses.dataclass
class Entry:
    student: str
    entry: str
    files: dict = dataclasses.field(default_factory=dict)   # exercise file name -> bytes
    error: str = ""
    notes: list = dataclasses.field(default_factory=list)  # what reading it did (a notebook's magics removed)
    origins: dict = dataclasses.field(default_factory=dict)  # a notebook's exercises: their cells (grader.submission.cells)
    seed: int = 0
    key: str = ""


def scan(submissions: Path, exercises) -> list:
    """Every entry of SUBMISSIONS as an ``Entry`` (with ``error`` set for bad ones),
    sorted by student id."""
    entries = []
    for raw in sorted(os.listdir(os.fsencode(submissions))):
        if raw.startswith(b".") or raw == b"__MACOSX":
            continue
        path = Path(os.fsdecode(os.path.join(os.fsencode(submissions), raw)))
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            shown = raw.decode("utf-8", "backslashreplace")
            entries.append(Entry(shown, shown, error="the entry's name is not valid UTF-8; rename it to the student id"))
            continue
        kind = "folder" if path.is_dir() else path.suffix.lower() if path.is_file() else "other"
        student = name if kind == "folder" else name[: -len(path.suffix)] if kind in (".zip", ".py", ".ipynb") else name
        e = Entry(student, name + ("/" if kind == "folder" else ""))
        if any(ord(c) < 32 or c == "\x7f" for c in name):
            e.error = "the entry's name holds control characters; rename it to the student id"
        elif len(name.encode()) > 200:
            e.error = "the entry's name is too long for a student id"
        elif not student:
            e.error = "the entry has no name before its extension"
        else:
            try:
                sub = read_submission(path, exercises)
                e.files, e.notes, e.origins = sub.files, sub.notes, sub.origins
            except BadEntry as err:
                e.error = str(err)
            except OSError as err:
                e.error = f"cannot be read ({err.strerror or err})"
        entries.append(e)
    by_id: dict = {}
    for e in entries:
        by_id.setdefault(e.student, []).append(e)
    out = []
    for student in sorted(by_id):
        group = by_id[student]
        if len(group) > 1:
            names = ", ".join(sorted(g.entry for g in group))
            out.append(Entry(student, names, error=f"{len(group)} entries have this student id ({names}); keep one"))
        else:
            out.append(group[0])
    return out


# ---------------------------------------------------------------------------
# seeds and keys

def student_seed(secret: str, student: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{secret}\0{student}".encode()).digest()[:6], "big")


def fingerprint(exercises) -> str:
    """The grader version and a digest of everything that decides these
    exercises' grades: the grading code, their hidden suites, the reference
    and the report templates."""
    base = Path(__file__).resolve().parent.parent
    suites = {ex.suite for ex in exercises}
    h = hashlib.sha256(__version__.encode())
    for root in (base, base.parent / "reference"):
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("*")):
            if (p.suffix not in (".py", ".j2", ".ini", ".toml") or "__pycache__" in p.parts
                    or p.relative_to(root).parts[0] == "batch" or p.name == "cli.py"):
                continue
            if p.name.startswith("test_exercise") and p.name not in suites:
                continue
            h.update(str(p.relative_to(root.parent)).encode() + b"\0")
            h.update(p.read_bytes())
    return f"{__version__}+{h.hexdigest()[:16]}"


def entry_key(files: dict, seed: int, exercises, limits, fp: str, origins: dict | None = None) -> str:
    lim = dataclasses.asdict(limits)
    lim.pop("hide", None)
    doc = {"files": {n: hashlib.sha256(d).hexdigest() for n, d in sorted(files.items())}, "seed": seed,
           "exercises": [ex.name for ex in exercises], "grader": fp, "limits": lim}
    if origins:  # a notebook whose cells moved: its report names other cells
        doc["origins"] = origins
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def load_secret(arg: str | None, out: Path) -> tuple:
    """(secret, where it came from)."""
    if arg:
        return arg, "--seed-secret"
    env = os.environ.get("GRADER_SEED_SECRET")
    if env:
        return env, "GRADER_SEED_SECRET"
    path = out / SECRET_FILE
    try:
        return path.read_text().strip(), str(path)
    except FileNotFoundError:
        pass
    secret = secrets.token_hex(16)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret, f"{path} (new)"


# ---------------------------------------------------------------------------
# results on disk

class Output:
    def __init__(self, root: Path):
        self.root = root
        self.reports = root / "reports"
        self.state = root / STATE_DIR / "state"
        self.reports.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(parents=True, exist_ok=True)

    def state_path(self, student: str) -> Path:
        return self.state / f"{student}.json"

    def read_state(self, student: str) -> dict | None:
        try:
            return json.loads(self.state_path(student).read_text())
        except (OSError, ValueError):
            return None

    def write_state(self, row: dict) -> None:
        from grader.feedback.report import write_atomic

        write_atomic(self.state_path(row["student"]), json.dumps(row, indent=1, sort_keys=True) + "\n")

    def report_paths(self, student: str) -> tuple:
        return self.reports / f"{student}.json", self.reports / f"{student}.html"

    @staticmethod
    def render_report(report: dict) -> dict:
        """A student's report files, as text ({"json": ..., "html": ...}): the same for the
        local batch and a cluster's (grader.batch.cluster_host), which writes them here."""
        from grader.feedback.report import render

        from grader.formats.common import for_platform

        report = for_platform(report)  # no advice for a student's terminal (--submission)
        return {"json": render(report, "json"), "html": render(report, "html")}

    def write_report(self, student: str, report: dict) -> None:
        from grader.feedback.report import write_atomic

        files = self.render_report(report)
        js, html = self.report_paths(student)
        write_atomic(js, files["json"])
        write_atomic(html, files["html"])

    def read_report(self, student: str) -> dict | None:
        try:
            return json.loads(self.report_paths(student)[0].read_text())
        except (OSError, ValueError):
            return None

    def remove_report(self, student: str) -> None:
        for p in self.report_paths(student):
            try:
                p.unlink()
            except OSError:
                pass

    def clean_partial(self) -> None:
        """Temporary files of writes that an interruption cut short."""
        for folder in (self.reports, self.state, self.root):
            for p in folder.glob(".*.tmp"):
                try:
                    p.unlink()
                except OSError:
                    pass


def _csv_safe(text: str) -> str:
    # a spreadsheet would run a cell that starts like a formula, or show it reordered
    from grader.feedback.textsafe import csv_cell

    return csv_cell(text)


def status_text(row: dict) -> str:
    if row["status"] == "graded":
        if row.get("internal"):
            return "graded (internal grader error in " + ", ".join(row["internal"]) + "; please report it)"
        return "graded"
    return "error: " + " ".join(str(row.get("reason", "")).split())


def write_csv(path: Path, rows: list, exercises, gradebook: dict | None = None) -> list:
    """results.csv at ``path`` and Canvas's grades.csv beside it; returns the
    entries matching no roster student.  ``gradebook``: roster, columns, assignment."""
    from grader.formats.canvas import gradebook as canvas
    from grader.feedback.report import write_atomic

    text, unmatched = canvas(rows, exercises, **(gradebook or {}))
    write_atomic(path.with_name("grades.csv"), text)

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Student"] + [ex.name for ex in exercises] + ["Total", "Status"])
    w.writerow(["Points Possible"] + [f"{POINTS_PER_EXERCISE:g}" for _ in exercises]
               + [f"{POINTS_PER_EXERCISE * len(exercises):g}", ""])
    for row in sorted(rows, key=lambda r: r["student"]):
        if row["status"] == "graded":
            scores = [f"{row['exercises'].get(ex.name, 0.0):.2f}" for ex in exercises] + [f"{row['score']:.2f}"]
        else:
            scores = [""] * (len(exercises) + 1)
        w.writerow([_csv_safe(row["student"])] + scores + [_csv_safe(status_text(row))])
    write_atomic(path, buf.getvalue())
    return unmatched


# ---------------------------------------------------------------------------
# grading one student (in a grading process)

def _scrub(value, replacements):
    """The report with machine-specific paths replaced (so that it is the same
    on every run and machine, and shows the student's entry, not a temp folder)."""
    if isinstance(value, str):
        for pattern, repl in replacements:
            value = pattern.sub(repl, value)
        return value
    if isinstance(value, list):
        return [_scrub(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, replacements) for k, v in value.items()}
    return value


class _Slot:
    """A grading process's state: its zygote and its private folders."""

    def __init__(self, folder: Path, limits, exercises, out: Output, zygote):
        self.folder = folder
        self.limits = limits
        self.exercises = exercises
        self.out = out
        self.tmp = folder / "tmp"
        self.sub = folder / "submission"
        self.tmp.mkdir(parents=True, exist_ok=True)
        tempfile.tempdir = str(self.tmp)
        self.zygote = zygote  # started by the parent (it imported torch while the parent did)

    def restart_zygote(self) -> None:
        from grader.transport.processes import Zygote

        try:
            self.zygote.close()
        except Exception:
            pass
        self.zygote = Zygote(preload=True, many=True)

    def zygote_alive(self) -> bool:
        # the first zygote is the parent's child, so ask the kernel, not Popen
        try:
            with open(f"/proc/{self.zygote.proc.pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
        except (OSError, IndexError):
            return False

    def probe(self) -> dict:
        """What isolation the workers get on this machine."""
        from grader.transport.processes import Worker

        self.zygote.wait_ready()
        w = Worker(self.zygote, self.limits, self.tmp / "probe")
        try:
            return dict(w.isolation)
        finally:
            w.close()
            shutil.rmtree(self.tmp / "probe", ignore_errors=True)

    def serve(self, conn) -> None:
        """Grade the students the pool sends, one after another, in one pytest
        session (the suites are collected once per grading process)."""
        from grader.harness.run import Job, serve

        def next_job():
            try:
                task = conn.recv()
            except (EOFError, OSError):
                return None
            if task is None:
                return None
            shutil.rmtree(self.sub, ignore_errors=True)
            self.sub.mkdir(parents=True)
            where = self.sub
            if task["entry"].lower().endswith(".py") and task["files"]:
                # one .py holding every exercise: graded as each exercise's file, under its own name
                where = self.sub / task["entry"]
                where.write_bytes(next(iter(task["files"].values())))
            else:
                for name, data in task["files"].items():
                    (self.sub / name).write_bytes(data)
            if not self.zygote_alive():
                self.restart_zygote()
            return Job(where, task["seed"], self.zygote,
                       extra={"task": task, "attempt": 0, "start": time.monotonic()})

        def on_report(job, report):
            task = job.extra["task"]
            if not self.zygote_alive():
                # the zygote died under this student: nothing of this run can be trusted
                if job.extra["attempt"] == 0:
                    self.restart_zygote()
                    job.zygote = self.zygote
                    job.extra["attempt"] = 1
                    return True
                report = None
            try:
                row = self.finish(task, report, time.monotonic() - job.extra["start"], job.extra.get("spend"))
            except Exception as e:  # the grader's own failure
                row = {"student": task["student"], "entry": task["entry"], "key": task["key"],
                       "seed": task["seed"], "status": "error", "kind": "internal",
                       "reason": f"internal grader error ({type(e).__name__}: {e})"}
                self.out.write_state(row)
            conn.send(("done", row))
            return False

        serve(self.exercises, next_job, on_report, limits=self.limits)

    def finish(self, task: dict, report, elapsed: float, spend=None) -> dict:
        """Write the student's report and state; the row for the gradebook."""
        student = task["student"]
        shutil.rmtree(self.sub, ignore_errors=True)
        row = {"student": student, "entry": task["entry"], "key": task["key"], "seed": task["seed"],
               "elapsed": round(elapsed, 3)}
        if spend is not None:
            row["cost"] = spend.as_dict()  # the budgets' accounting (grader.transport.limits.Spend)
        if task.get("run"):
            row["run"] = task["run"]  # regraded by this --force/--only run (see _run)
        if report is None:
            row.update(status="error", kind="crash",
                       reason="the submission stopped the grader's worker process twice; grade it on its own")
            self.out.remove_report(student)
            self.out.write_state(row)
            return row
        tmp = re.escape(str(self.tmp))
        report = _scrub(report, [(re.compile(tmp + r"/grader-\w+/grader-run-\w+"), "<worker folder>"),
                                 (re.compile(re.escape(str(self.sub))), lambda m: student)])
        report["submission"] = task["entry"]
        if task.get("notes"):
            report["notes"] = task["notes"]
        if task.get("origins"):
            from grader.submission.cells import relocate

            report = relocate(report, task["origins"])
        report["batch"] = {"student": student, "entry": task["entry"], "key": task["key"]}
        self.out.write_report(student, report)
        internal = [ex["name"] for ex in report["exercises"]
                    if ex["status"] == "error" or any(t.get("kind") == "internal" for t in ex["tests"])]
        row.update(status="graded", score=report["score"], max_score=report["max_score"],
                   exercises={ex["name"]: ex["score"] for ex in report["exercises"]})
        if internal:
            row["internal"] = internal
        self.out.write_state(row)
        return row


def _child_main(conn, folder: str, limits, exercise_names, out_root: str, zygote) -> None:
    """A grading process: one zygote of its own, one student after another."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # die with the batch
    except Exception:
        pass
    slot = None
    try:
        exercises = [lookup(n) for n in exercise_names]
        slot = _Slot(Path(folder), limits, exercises, Output(Path(out_root)), zygote)
        conn.send(("ready", slot.probe()))
        slot.serve(conn)
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        pass
    except BaseException as e:
        try:
            conn.send(("fatal", f"{type(e).__name__}: {e}"))
        except Exception:
            pass
    finally:
        if slot is not None:
            try:
                slot.zygote.close()
            except Exception:
                pass
        os._exit(0)


# ---------------------------------------------------------------------------
# the pool (in the parent)

PARK_AFTER = 6.0  # seconds: a grading process on one submission this long is parked (Pool._busy)


class Pool:
    """``jobs`` grading processes forked from this (warm) process, each with a
    zygote of its own.  The zygotes are started first, so that they import
    torch while this process imports the rest (``prestart``).  A grading
    process that overruns the per-student wall limit is killed together with
    its zygote (whose workers and their namespaces die with it) and replaced;
    one that dies is replaced and its student graded again once."""

    def __init__(self, jobs: int, workdir: Path, limits, exercises, out: Output, wall_limit: float):
        import multiprocessing

        self.ctx = multiprocessing.get_context("fork")
        self.jobs = jobs
        self.workdir = workdir
        self.limits = limits
        self.exercise_names = [ex.name for ex in exercises]
        self.out = out
        self.wall_limit = wall_limit
        self.procs: dict = {}   # slot -> dict(proc, conn, task, started, ready, zygote, folder)
        self.spare: list = []
        self._elapsed = (0.0, 0)  # seconds and number of the submissions graded (Pool._busy)
        self.isolation = None
        self.fatal = None
        self._n = 0
        # One core per grading process, with its zygote and workers: a request and its
        # reply then pass between two processes on the same core, whose caches stay warm
        # (about 6 % more submissions a second here).  Only when the jobs share the cores evenly.
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        self.cpus = cpus if len(cpus) > 1 and jobs % len(cpus) == 0 and os.environ.get("GRADER_PIN") != "0" else []

    def prestart(self, n: int) -> None:
        from grader.transport.processes import Zygote

        self.spare = [Zygote(preload=True, many=True) for _ in range(n)]

    def _start(self, slot: int) -> None:
        from grader.transport.processes import Zygote

        zygote = self.spare.pop() if self.spare else Zygote(preload=True, many=True)
        parent, child = self.ctx.Pipe()
        self._n += 1
        folder = self.workdir / f"slot{slot}-{self._n}"
        proc = self.ctx.Process(target=_child_main, args=(child, str(folder), self.limits, self.exercise_names,
                                                          str(self.out.root), zygote), daemon=True)
        proc.start()
        child.close()
        zygote._ctrl.close()  # the grading process holds the only copy of the control socket
        if self.cpus:
            for pid in (proc.pid, zygote.proc.pid):  # the zygote's workers inherit it
                try:
                    os.sched_setaffinity(pid, {self.cpus[slot % len(self.cpus)]})
                except OSError:
                    pass
        self.procs[slot] = {"proc": proc, "conn": parent, "task": None, "started": 0.0, "ready": False,
                            "folder": folder, "zygote": zygote, "done": 0}

    def _busy(self, now: float) -> int:
        """Grading processes on a submission that has not yet taken PARK_AFTER seconds, or
        four times the mean of the submissions graded so far where more (a loaded machine),
        three times that for a process's first.  A longer one is parked: it mostly waits on
        its worker (a reply slowed on purpose) or spends its submission's CPU budget; another
        process grades meanwhile, so that it holds up nobody."""
        park = max(PARK_AFTER, 4 * self._elapsed[0] / self._elapsed[1]) if self._elapsed[1] else PARK_AFTER
        return sum(1 for p in self.procs.values() if p["task"] is not None
                   and now - p["started"] < park * (1 if p["done"] else 3))

    def _more(self, pending: list) -> None:
        """Start one more grading process where every one is busy and some are parked
        (at most ``jobs`` more)."""
        now = time.monotonic()
        if (pending and not self.fatal and len(self.procs) < 2 * self.jobs and self._busy(now) < self.jobs
                and all(p["task"] is not None for p in self.procs.values())):
            self._start(max(self.procs, default=-1) + 1)

    @staticmethod
    def _kill_zygote(zygote) -> None:
        try:
            zygote.proc.kill()
            zygote.proc.wait(10)
        except Exception:
            pass
        try:
            zygote._stderr.close()
        except Exception:
            pass
        shutil.rmtree(zygote._dir, ignore_errors=True)

    def _stop(self, slot: int, kill: bool = True) -> None:
        p = self.procs.pop(slot)
        if kill and p["proc"].is_alive():
            os.kill(p["proc"].pid, signal.SIGKILL)
        p["proc"].join(5)
        self._kill_zygote(p["zygote"])
        p["conn"].close()
        shutil.rmtree(p["folder"], ignore_errors=True)

    def _error(self, t: dict, kind: str, reason: str, elapsed=None) -> dict:
        row = {"student": t["student"], "entry": t["entry"], "key": t["key"], "seed": t["seed"],
               "status": "error", "kind": kind, "reason": reason}
        if elapsed is not None:
            row["elapsed"] = round(elapsed, 3)
        self.out.remove_report(t["student"])
        self.out.write_state(row)
        return row

    def run(self, tasks: list, on_done) -> None:
        from multiprocessing.connection import wait

        pending = list(tasks)
        retried: set = set()
        for slot in range(min(self.jobs, len(pending))):
            self._start(slot)
        for z in self.spare:
            self._kill_zygote(z)
        self.spare = []
        try:
            while self.procs:
                now = time.monotonic()
                for slot, p in list(self.procs.items()):
                    if p["task"] is not None and now - p["started"] > self.wall_limit:
                        t = p["task"]
                        self._stop(slot)
                        on_done(self._error(t, "timeout", f"grading took longer than the whole-submission limit "
                                                          f"({self.wall_limit:.0f} s) and was stopped",
                                            now - p["started"]))
                        if pending and not self.fatal:
                            self._start(slot)
                self._more(pending)
                waitables = [p["conn"] for p in self.procs.values()] + [p["proc"].sentinel for p in self.procs.values()]
                ready = wait(waitables, timeout=0.5) if waitables else []
                for slot, p in list(self.procs.items()):
                    died = p["proc"].sentinel in ready
                    if p["conn"] in ready:
                        try:
                            msg, value = p["conn"].recv()
                        except (EOFError, OSError):
                            msg, value = "died", None
                        if msg == "ready":
                            p["ready"] = True
                            if self.isolation is None:
                                self.isolation = value
                        elif msg == "done":
                            p["task"] = None
                            p["done"] += 1
                            if isinstance(value, dict) and isinstance(value.get("elapsed"), (int, float)):
                                self._elapsed = (self._elapsed[0] + value["elapsed"], self._elapsed[1] + 1)
                            on_done(value)
                        elif msg == "fatal":
                            self.fatal = value
                            pending.clear()
                            self._stop(slot)
                            continue
                        else:
                            died = True
                    if died:
                        p["proc"].join(5)
                    if died and not p["proc"].is_alive():
                        t, code = p["task"], p["proc"].exitcode
                        self._stop(slot, kill=False)
                        if t is not None:
                            if t["student"] in retried:
                                on_done(self._error(t, "crash", "the grading process died twice while grading "
                                                                f"this submission (exit code {code})"))
                            else:
                                retried.add(t["student"])
                                pending.insert(0, t)
                        if pending and not self.fatal:
                            self._start(slot)
                        continue
                    if p["ready"] and p["task"] is None:
                        if pending and not self.fatal:
                            if self._busy(time.monotonic()) >= self.jobs:
                                continue  # as many busy as jobs: it waits until one ends or is parked
                            p["task"] = pending.pop(0)
                            p["started"] = time.monotonic()
                            p["conn"].send(p["task"])
                        else:
                            p["conn"].send(None)
                            p["proc"].join(10)
                            self._stop(slot)
        finally:
            self.close()

    def close(self) -> None:
        for slot in list(self.procs):
            self._stop(slot)
        for z in self.spare:
            self._kill_zygote(z)
        self.spare = []


# ---------------------------------------------------------------------------
# progress

def _fmt_duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Progress:
    """A bar with counts and ETA on a terminal; plain lines otherwise (CI)."""

    def __init__(self, total: int, stream=None):
        self.stream = stream or sys.stderr
        self.total = total
        self.done = 0
        self.graded = 0
        self.errors = 0
        self.start = time.monotonic()
        self.tty = self.stream.isatty() and not os.environ.get("CI") and os.environ.get("TERM") != "dumb"
        self.last_draw = 0.0

    def update(self, row: dict) -> None:
        self.done += 1
        if row["status"] == "graded":
            self.graded += 1
        else:
            self.errors += 1
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        if self.tty:
            now = time.monotonic()
            if now - self.last_draw < 0.1 and self.done < self.total:
                return
            self.last_draw = now
            width = 30
            fill = int(width * self.done / self.total) if self.total else width
            bar = "█" * fill + "░" * (width - fill)
            self.stream.write(f"\r\033[K  {bar} {self.done}/{self.total}  graded {self.graded}  errors {self.errors}"
                              f"  {rate:.2f}/s  ETA {_fmt_duration(eta)}")
            self.stream.flush()
        else:
            what = (f"{row['score']:.2f} / {row['max_score']:g}" if row["status"] == "graded"
                    else status_text(row))
            took = f" ({row['elapsed']:.1f} s)" if "elapsed" in row else ""
            from grader.feedback.textsafe import terminal  # a student id or reason acts on no terminal or CI log

            print(terminal(f"grade batch: [{self.done}/{self.total}] {row['student']}: {what}{took}"),
                  file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()


# ---------------------------------------------------------------------------
# class analytics

def _first_line(text: str, n: int = 220) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= n else line[: n - 1] + "…"


# failures that say nothing about a misconception: the exercise was not attempted
# (the stub's NotImplementedError), its file is missing, or Python could not read it
NOT_MISCONCEPTIONS = {"not_implemented", "missing_file"}


def _misconception(ex: dict, t: dict | None) -> bool:
    from grader.suites.common import FOLLOW_UPS

    if t is not None and t.get("kind") in NOT_MISCONCEPTIONS:
        return False
    text = (t or ex).get("hint", "") or ""
    if text in FOLLOW_UPS:  # "fix what the other tests report first": the misconception is counted there
        return False
    msg = (t or ex).get("message", "") or ""
    if ex.get("status") == "missing" or text.startswith(("Python cannot read the file", "Save the file as UTF-8")):
        return False
    return not ("SyntaxError" in msg or "NotImplementedError" in text or "not implemented yet" in msg)


TROUBLE_KINDS = {"timeout": "timed out", "budget": "time budget used up", "crash": "crashed the worker",
                 "protocol": "sent bad data"}


def analytics(rows: list, out: Output, exercises) -> dict:
    """The class picture, as plain data (summary.json; rendered as summary.html)."""
    graded = [r for r in rows if r["status"] == "graded"]
    max_total = POINTS_PER_EXERCISE * len(exercises)
    totals = sorted(r["score"] for r in graded)
    bins = [0] * 10
    for t in totals:
        bins[min(9, int(10 * t / max_total)) if max_total else 0] += 1
    per_ex = {ex.name: {"name": ex.name, "title": ex.title, "label": f"{ex.name} · {ex.title}", "sum": 0.0, "full": 0, "zero": 0, "n": 0,
                        "load_errors": 0, "missing": 0} for ex in exercises}
    tests: dict = {}
    hints: dict = {}
    trouble = []
    review: list = []  # what the integrity scan flagged (grader.verdicts.integrity)
    for r in graded:
        rep = out.read_report(r["student"])
        if rep is None:
            continue
        for ex in rep["exercises"]:
            e = per_ex.get(ex["name"])
            if e is None:
                continue
            e["n"] += 1
            e["sum"] += ex["score"]
            e["full"] += ex["score"] >= ex["max_score"]
            e["zero"] += ex["score"] == 0
            e["load_errors"] += ex["status"] == "load_error"
            e["missing"] += ex["status"] == "missing"
            notes = [str(item.get("message", ""))[:300] for item in ex.get("review") or () if isinstance(item, dict)]
            if notes:
                more = f" (and {len(notes) - 1} more)" if len(notes) > 1 else ""
                review.append({"student": r["student"], "exercise": ex["name"], "message": notes[0] + more})
            seen = set()
            if ex.get("hint") and ex["status"] == "load_error" and _misconception(ex, None):
                seen.add((ex["name"], ex["hint"], _first_line(ex["message"]), "(loading the file)"))
                if "took longer" in ex["message"] or "ended the worker" in ex["message"]:
                    trouble.append({"student": r["student"], "exercise": ex["name"],
                                    "what": "timed out" if "took longer" in ex["message"] else "crashed the worker",
                                    "message": _first_line(ex["message"])})
            kinds = {}
            for t in ex["tests"]:
                if t["status"] == "skipped":
                    continue
                base = t["name"].split("[", 1)[0]
                st = tests.setdefault((ex["name"], base), {"exercise": ex["name"], "test": base,
                                                           "description": t.get("description", ""),
                                                           "passed": 0, "total": 0, "students": set(),
                                                           "failed_students": set()})
                st["total"] += 1
                st["students"].add(r["student"])
                if t["status"] == "passed":
                    st["passed"] += 1
                else:
                    st["failed_students"].add(r["student"])
                    if t.get("hint") and _misconception(ex, t):
                        seen.add((ex["name"], t["hint"], _first_line(t["message"]), base))
                    if t.get("kind") in TROUBLE_KINDS:
                        kinds.setdefault(t["kind"], t["message"])
            for kind, msg in kinds.items():
                trouble.append({"student": r["student"], "exercise": ex["name"], "what": TROUBLE_KINDS[kind],
                                "message": _first_line(msg)})
            for exname, hint, msg, test in seen:
                h = hints.setdefault((exname, hint), {"exercise": exname, "hint": hint, "students": set(),
                                                      "example": msg, "tests": set()})
                h["students"].add(r["student"])
                h["tests"].add(test)
    for r in rows:
        if r["status"] != "graded" and r.get("kind") in ("timeout", "crash", "internal"):
            trouble.append({"student": r["student"], "exercise": "(whole submission)",
                            "what": {"timeout": "timed out", "crash": "crashed the grader"}.get(r["kind"],
                                                                                               "grader error"),
                            "message": r.get("reason", "")})
    ex_list = []
    for e in per_ex.values():
        e["mean"] = round(e.pop("sum") / e["n"], 2) if e["n"] else 0.0
        ex_list.append(e)
    test_list = []
    for st in tests.values():
        n = len(st.pop("students"))
        failed = len(st.pop("failed_students"))
        st.update(rate=round(st["passed"] / st["total"], 4) if st["total"] else 0.0,
                  students=n, students_failing=failed)
        test_list.append(st)
    test_list.sort(key=lambda s: ([ex.name for ex in exercises].index(s["exercise"])
                                  if s["exercise"] in per_ex else 99, s["test"]))
    hint_list = [{"exercise": h["exercise"], "hint": h["hint"], "students": len(h["students"]),
                  "example": h["example"], "tests": sorted(h["tests"])} for h in hints.values()]
    hint_list.sort(key=lambda h: (-h["students"], h["exercise"], h["hint"]))
    n = len(totals)
    median = (totals[n // 2] if n % 2 else (totals[n // 2 - 1] + totals[n // 2]) / 2) if n else 0.0
    data = {
        "students": len(rows), "graded": n, "errors": len(rows) - n, "max_total": max_total,
        "mean": round(sum(totals) / n, 2) if n else 0.0, "median": round(median, 2),
        "full_marks": sum(t >= max_total for t in totals),
        "histogram": [{"from": round(max_total * i / 10, 2), "to": round(max_total * (i + 1) / 10, 2), "count": c}
                      for i, c in enumerate(bins)],
        "histogram_step": max(1, -(-max(bins) // 4)),
        "exercises": ex_list, "tests": test_list, "hints": hint_list[:30], "hints_total": len(hint_list),
        "trouble": sorted(trouble, key=lambda t: (t["student"], t["exercise"])),
        "errors_list": [{"student": r["student"], "entry": r.get("entry", ""), "reason": r.get("reason", "")}
                        for r in rows if r["status"] != "graded" and r.get("kind") not in ("timeout", "crash")],
        "label_width": max((len(e["label"]) for e in ex_list), default=10),
        "students_list": [{"student": r["student"], "entry": r.get("entry", ""), "status": r["status"],
                           "score": r.get("score"), "exercises": r.get("exercises", {}),
                           "report": r["status"] == "graded" and all(p.exists() for p in out.report_paths(r["student"])),
                           "reason": r.get("reason", "")}
                          for r in sorted(rows, key=lambda r: r["student"])],
    }
    if review:
        data["review"] = review
    return data


def render_summary(data: dict, meta: dict) -> str:
    from grader.feedback.report import _env

    env = _env(autoescape=True)
    return env.get_template("summary.html.j2").render(s=data, meta=meta)


# ---------------------------------------------------------------------------

def _jobs_text(jobs: int, tasks: int) -> str:
    """'2 jobs', '1 job', or 'no grading needed' for a batch with nothing to grade."""
    if not tasks:
        return "no grading needed"
    n = min(jobs, tasks)
    return f"{n} job" + ("s" if n != 1 else "")


def _fail(message: str) -> int:
    print(f"grade batch: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _inside(a: Path, b: Path) -> bool:
    a, b = a.resolve(), b.resolve()
    return a == b or b in a.parents


def _prewarm(exercises) -> None:
    """Import what every grading process needs once, before forking them."""
    import importlib

    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    import torch

    torch.set_num_threads(1)  # no thread pool in a process that forks
    import pytest

    import grader.harness.plugin  # noqa: F401
    import grader.feedback.report
    import grader.harness.run  # noqa: F401

    # one Jinja2 environment for every report, instead of compiling the templates per report
    if not hasattr(grader.feedback.report._env, "cache_info"):
        import functools

        grader.feedback.report._env = functools.lru_cache(maxsize=4)(grader.feedback.report._env)

    try:
        import jinja2  # noqa: F401
    except ImportError:
        pass
    for ex in exercises:
        importlib.import_module("grader.suites." + ex.suite[:-3])
    # what the first grading run would import lazily (autograd's gradcheck pulls in sympy)
    for name in ("pytest_timeout", "torch.fx.experimental.symbolic_shapes", "torch.autograd.gradcheck"):
        try:
            importlib.import_module(name)
        except Exception:
            pass
    # pytest's own plugins load on the first session: run an empty one (collection only)
    import contextlib

    from grader.harness.run import SUITES_DIR

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        pytest.main([str(SUITES_DIR / "__init__.py"), "-c", str(SUITES_DIR / "pytest.ini"), "--rootdir",
                     str(SUITES_DIR), "-p", "no:cacheprovider", "-p", "pytest_timeout", "-q", "--collect-only",
                     "-p", "no:warnings"])


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
    except _Usage as e:
        return _fail(f"{e} (see: grade batch --help)")
    try:
        return _run(args)
    except KeyboardInterrupt:
        if args.force or args.only:  # the same command would start the regrade over
            again = " ".join(_resume_command(argv))
            print(f"\ngrade batch: interrupted; to resume (regrading only the students not yet regraded), run:\n"
                  f"  grade batch {again}", file=sys.stderr)
        else:
            print("\ngrade batch: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED


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
    from grader.harness.run import SUITES_DIR
    from grader.transport.limits import Limits

    started = time.monotonic()
    subs, out_root = args.submissions.expanduser(), args.out.expanduser()
    if not subs.is_dir():
        return _fail(f"SUBMISSIONS {subs} is not a folder" if subs.exists() else f"SUBMISSIONS {subs} does not exist")
    if out_root.exists() and not out_root.is_dir():
        return _fail(f"--out {out_root} exists and is not a folder")
    if _inside(out_root, subs):
        return _fail("--out must not be inside SUBMISSIONS (it would be read as a student)")
    if _inside(subs, out_root):
        return _fail("SUBMISSIONS must not be inside --out")
    jobs = args.jobs if args.jobs is not None else len(os.sched_getaffinity(0))
    if jobs < 1:
        return _fail("--jobs must be at least 1")
    if args.timeout_scale <= 0 or args.submission_timeout <= 0:
        return _fail("--timeout-scale and --submission-timeout must be positive")
    try:
        exercises = select(args.exercises)
    except KeyError as e:
        return _fail(e.args[0])
    book = {"columns": args.gradebook, "assignment": args.assignment}
    if args.roster is not None:
        from grader.formats.canvas import RosterError, read_roster

        try:
            book["roster"] = read_roster(args.roster.expanduser())
        except RosterError as e:
            return _fail(str(e))
    missing = [ex for ex in exercises if not (SUITES_DIR / ex.suite).is_file()]
    if missing:
        return _fail("the hidden tests for " + ", ".join(ex.name for ex in missing)
                     + " are not installed; choose others with --exercises")
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        out = Output(out_root)
        secret, secret_from = load_secret(args.seed_secret, out_root)
    except OSError as e:
        return _fail(f"cannot write to --out {out_root} ({e.strerror or e})")
    out.clean_partial()
    subs, out_root = subs.resolve(), out_root.resolve()

    # the grading processes' scratch space (submission copies, worker folders): memory is
    # faster than disk for these short-lived files; workers never see it (it is hidden)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    workdir = Path(tempfile.mkdtemp(prefix="grader-batch-", dir=shm))
    limits = Limits(isolate=not args.no_isolation, hide=(str(subs), str(out_root), str(workdir)))
    limits = limits.scaled(args.timeout_scale)
    wall_limit = args.submission_timeout * args.timeout_scale
    fp = fingerprint(exercises)

    entries = scan(subs, exercises)
    if args.only:
        unknown = sorted(set(args.only) - {e.student for e in entries})
        if unknown:
            return _fail("--only: no entry for " + ", ".join(unknown) + f" in {subs}")
    # a --force run (or --only) that is interrupted is resumed by the next run: the marker
    # names the run; each student it regraded carries the mark in its state
    marker = out.root / STATE_DIR / "regrade.json"
    try:
        pending = json.loads(marker.read_text())
    except (OSError, ValueError):
        pending = None
    if args.force or args.only:
        pending = {"run": secrets.token_hex(8), "only": sorted(args.only) if args.only else None}
        from grader.feedback.report import write_atomic as _wa

        _wa(marker, json.dumps(pending) + "\n")
    rows, tasks, skipped = [], [], 0
    for e in entries:
        if e.error:
            row = {"student": e.student, "entry": e.entry, "status": "error", "kind": "bad_entry", "reason": e.error}
            if not e.student.isprintable() or "/" in e.student or e.student in (".", ".."):
                rows.append(row)  # no file of its own for a name that cannot be one
                continue
            out.remove_report(e.student)
            out.write_state(row)
            rows.append(row)
            continue
        e.seed = student_seed(secret, e.student)
        e.key = entry_key(e.files, e.seed, exercises, limits, fp, e.origins)
        old = out.read_state(e.student)
        if args.only and e.student not in args.only:
            rows.append(old or {"student": e.student, "entry": e.entry, "status": "error", "kind": "not_graded",
                                "reason": "not graded yet (it was not named by --only)"})
            skipped += 1
            continue
        regrade = pending is not None and (old or {}).get("run") != pending["run"] and (
            pending.get("only") is None or e.student in pending["only"])
        if (not regrade and old and old.get("key") == e.key and old.get("status") == "graded"
                and not old.get("internal") and all(p.exists() for p in out.report_paths(e.student))):
            rows.append(old)
            skipped += 1
            continue
        tasks.append({"student": e.student, "entry": e.entry, "files": e.files, "seed": e.seed, "key": e.key,
                      "run": pending["run"] if pending else None,
                      "notes": e.notes, "origins": e.origins})
    bad = sum(r["status"] != "graded" for r in rows)
    print(f"grade batch: {len(entries)} entries in {subs}: {len(tasks)} to grade, {skipped} unchanged, "
          f"{bad} unusable; {_jobs_text(jobs, len(tasks))}; seed secret from {secret_from}", file=sys.stderr)
    by_student = {r["student"]: r for r in rows}
    write_csv(out_root / "results.csv", list(by_student.values()), exercises, book)

    isolation = None
    fatal = None
    progress = Progress(len(tasks))
    last_csv = [time.monotonic()]

    def on_done(row):
        by_student[row["student"]] = row
        progress.update(row)
        if time.monotonic() - last_csv[0] > 2.0:
            write_csv(out_root / "results.csv", list(by_student.values()), exercises, book)
            last_csv[0] = time.monotonic()

    if args.scheduler:
        try:
            from grader.batch.cluster import ClusterError, ClusterPool
            pool = ClusterPool(args.scheduler, limits, exercises, out, wall_limit, fp)
        except ImportError:
            return _fail("--scheduler needs Dask distributed: pip install 'nngrade[cluster]'")
        except ClusterError as e:
            return _fail(str(e))
    else:
        pool = Pool(jobs, workdir, limits, exercises, out, wall_limit)
    try:
        if tasks:
            try:
                pool.prestart(min(jobs, len(tasks)))  # they import torch while this process does
            except Exception as e:
                if not args.scheduler or not isinstance(e, ClusterError):
                    raise
                return _fail(str(e))
            if not args.scheduler:
                _prewarm(exercises)
            pool.run(tasks, on_done)
    finally:
        pool.close()
        progress.close()
        write_csv(out_root / "results.csv", list(by_student.values()), exercises, book)
        shutil.rmtree(workdir, ignore_errors=True)
    isolation, fatal = pool.isolation, pool.fatal
    if pending and not fatal:  # the forced regrade is complete
        marker.unlink(missing_ok=True)

    rows = list(by_student.values())
    elapsed = time.monotonic() - started
    data = analytics(rows, out, exercises)
    _, unmatched = _gradebook_unmatched(rows, exercises, book)
    data["roster"] = {"used": args.roster is not None, "unmatched": unmatched,
                      "without_submission": _without_submission(rows, book)}
    meta = {"submissions": str(subs), "exercises": [ex.name for ex in exercises], "jobs": jobs,
            "graded_now": len(tasks), "skipped": skipped, "elapsed": _fmt_duration(elapsed),
            "isolation": _isolation_text(isolation) if isolation is not None else "(no submission graded in this run)",
            "grader": fp, "secret_from": secret_from}
    from grader.feedback.report import write_atomic

    write_atomic(out_root / "summary.json", json.dumps({"meta": meta, **data}, indent=1) + "\n")
    write_atomic(out_root / "summary.html", render_summary(data, meta))
    if fatal:
        print(f"grade batch: internal error: {fatal}", file=sys.stderr)
        return EXIT_INTERNAL
    if isolation is not None and not _fully_isolated(isolation) and not args.no_isolation:
        print(f"grade batch: warning: workers are not fully isolated on this machine: {_isolation_text(isolation)}",
              file=sys.stderr)
    rate = f" ({len(tasks) / elapsed:.2f} submissions/s)" if tasks and elapsed > 0 else ""
    failed = sorted(r["student"] for r in rows if r["status"] != "graded")
    names = ""
    if failed:
        names = ": " + ", ".join(failed[:15]) + (f" and {len(failed) - 15} more" if len(failed) > 15 else "")
    if unmatched:
        print(f"grade batch: {len(unmatched)} entries match no roster student (listed in summary.html and "
              f"results.csv): {', '.join(unmatched[:15])}", file=sys.stderr)
    print(f"grade batch: graded {data['graded']} of {data['students']} students in {_fmt_duration(elapsed)}{rate}; "
          f"results in {out_root}/grades.csv and summary.html; "
          + (f"{len(failed)} could not be graded{names}" if failed else "every entry graded"), file=sys.stderr)
    if any(r.get("kind") == "internal" or r.get("internal") for r in rows):
        return EXIT_INTERNAL
    return EXIT_ERRORS if data["errors"] else EXIT_OK


def _gradebook_unmatched(rows, exercises, book) -> tuple:
    from grader.formats.canvas import gradebook

    return gradebook(rows, exercises, **book)


def _without_submission(rows, book) -> list:
    """Roster students no entry matched (their grades.csv row has no score)."""
    if not book.get("roster"):
        return []
    from grader.formats.canvas import match

    found, _ = match(sorted(r["student"] for r in rows), book["roster"])
    taken = {id(rec) for rec in found.values()}
    return [rec["Student"] or rec["SIS Login ID"] for rec in book["roster"] if id(rec) not in taken]


def _fully_isolated(iso: dict) -> bool:
    """Namespaces (as root, or a user namespace without root) with a private file view and PID namespace."""
    return iso.get("mode") in ("namespaces", "user-namespace") and bool(iso.get("mounts")) and bool(iso.get("pid"))


def _isolation_text(iso: dict) -> str:
    if not iso or iso.get("mode") in (None, "none"):
        reason = iso.get("reason") if iso else None
        return "none: resource limits only" + (f" ({reason})" if reason else "")
    parts = [iso["mode"]]
    parts.append("mount+net+pid+ipc" if iso.get("pid") and iso.get("net") and iso.get("mounts") else
                 ", ".join(k for k in ("mounts", "net", "pid") if iso.get(k)))
    if iso.get("mode") == "namespaces":
        parts.append(f"own uid per worker (e.g. {iso.get('uid')})")
    if iso.get("reason"):
        parts.append(f"degraded: {iso['reason']}")
    return "; ".join(parts)
