"""``grade batch``'s command line: its help text, parser and exit statuses."""

from __future__ import annotations

import argparse
from pathlib import Path

from grader import __version__
from grader.course import add_option
from grader.exercises import add_exercises_option
from grader.hint_levels import add_hint_level_option

EXIT_OK, EXIT_ERRORS, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

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
Entries whose name starts with "." are ignored.  Or SUBMISSIONS is Canvas's
"Download Submissions", unzipped as it comes (lovelaceada_LATE_101_5001_
exercise1_softmax.py, ...): one entry per Canvas user id (101), matched to
--roster by its ID column, LATE kept.

results in --out DIR:
  grades.csv        Canvas's gradebook import: Student, ID, SIS User ID, SIS
                    Login ID, Section, the assignment's total (--assignment
                    "Homework 3 (12345)") or one column per exercise, a
                    "Points Possible" row; with --roster, one row per roster
                    student (no submission: no score)
  results.csv       one row per entry: Student, one column per exercise, Total,
                    Status (graded, or error: reason; LATE on Canvas; the
                    overrides with their reasons)
  summary.html      score distribution, per-exercise means, the students (with
                    roster names and sections; sort and filter), per-test pass
                    rates of those who attempted, the most common
                    misconceptions (hints), the overrides and the submissions
                    that timed out or crashed; summary.json: the same data
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
  grade batch submissions/ --out results/ --overrides overrides.csv
  GRADER_SEED_SECRET=s3cret grade batch submissions/ --out results/ --force
  grade batch submissions/ --out results/ --scheduler tcp://10.0.0.5:8786   (a Dask cluster)

exit status:
  0  every entry graded    1  some entries could not be graded (error rows)
  2  bad command line      3  internal grader error    130  interrupted (rerun to resume)
"""


class Usage(Exception):
    """A mistake on the command line: one line for the user, exit 2 (no usage dump)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Usage(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="grade batch", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "submissions",
        metavar="SUBMISSIONS",
        type=Path,
        help="folder with one entry (folder, .zip, .py or .ipynb) per student, or Canvas's "
        "Download Submissions as it comes",
    )
    p.add_argument(
        "--out", "-o", metavar="DIR", type=Path, required=True, help="where reports, grades.csv and summary.html go"
    )
    p.add_argument(
        "--jobs",
        "-j",
        type=int,
        default=None,
        metavar="N",
        help="submissions graded in parallel (default: the number of cores)",
    )
    add_exercises_option(p)
    p.add_argument(
        "--seed-secret",
        metavar="TEXT",
        default=None,
        help="course secret for the per-student seeds (default: $GRADER_SEED_SECRET, "
        "else DIR/.grader-secret, created once)",
    )
    p.add_argument("--force", action="store_true", help="regrade every student, even unchanged ones")
    p.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="ID",
        help="regrade only these students (entry names without .zip/.py), even if unchanged",
    )
    p.add_argument(
        "--roster",
        type=Path,
        default=None,
        metavar="CSV",
        help="the class list (a Canvas gradebook export): grades.csv gets a row per roster student; "
        "entries are matched by login, SIS id or name; unmatched ones are listed in the summary",
    )
    p.add_argument(
        "--gradebook",
        choices=("exercises", "total"),
        default=None,
        help="grades.csv columns: one per exercise or one assignment total (default: the total "
        "when --assignment carries its Canvas id, else one per exercise)",
    )
    p.add_argument(
        "--assignment",
        default="",
        metavar="TITLE",
        help='the Canvas assignment with its id, "Homework 3 (12345)": grades.csv updates that '
        "assignment's score (its total)",
    )
    p.add_argument(
        "--overrides",
        type=Path,
        default=None,
        metavar="CSV",
        help="scores changed by hand: a CSV with the columns entry, exercise, points (new points, "
        "or +2 / -1.5), reason, who; applied on top of the computed scores in results.csv, "
        "grades.csv and the summary, with the reason; kept for later runs (in DIR/.batch)",
    )
    p.add_argument(
        "--timeout-scale", type=float, default=1.0, metavar="X", help="multiply every time limit by X (default 1)"
    )
    p.add_argument(
        "--submission-timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="wall-time limit for grading one student, all exercises (default 300, times --timeout-scale)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="grade on a Dask cluster: the scheduler's address (tcp://HOST:8786), or local[:N] for "
        "N worker processes on this machine (needs: pip install nngrade[cluster])",
    )
    p.add_argument(
        "--no-isolation",
        action="store_true",
        help="run workers without namespaces and the unprivileged uid (debugging only)",
    )
    add_hint_level_option(p)
    add_option(p)
    p.add_argument("--version", action="version", version=f"grade {__version__}")
    return p
