"""Results on disk (--out): each student's reports and state, results.csv and grades.csv."""
from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

from grader.exercises import POINTS_PER_EXERCISE

STATE_DIR = ".batch"


def state_name(student: str) -> str:
    """The file name of a student's state: a hash of the student id, so that any id a file
    system allows as an entry name (up to 255 bytes, any characters) names a state file too;
    the id itself is inside (``"student"``)."""
    return hashlib.sha256(student.encode("utf-8", "surrogatepass")).hexdigest()[:32] + ".json"


def state_file(root: Path, student: str) -> Path:
    """Where a student's state lives under the batch's ``--out`` folder ``root``."""
    return Path(root) / STATE_DIR / "state" / state_name(student)


class Output:
    def __init__(self, root: Path):
        self.root = root
        self.reports = root / "reports"
        self.state = root / STATE_DIR / "state"
        self.reports.mkdir(parents=True, exist_ok=True)
        self.state.mkdir(parents=True, exist_ok=True)

    def state_path(self, student: str) -> Path:
        return self.state / state_name(student)

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


def error_row(task: dict, kind: str, reason: str, elapsed=None) -> dict:
    """The gradebook row of a student whose grading failed (``kind``: timeout, crash, internal)."""
    row = {"student": task["student"], "entry": task["entry"], "key": task["key"], "seed": task["seed"],
           "status": "error", "kind": kind, "reason": reason}
    if elapsed is not None:
        row["elapsed"] = round(elapsed, 3)
    return row


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
