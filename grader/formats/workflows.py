"""The two GitHub Actions workflows of a GitHub Classroom course, and which part of a
student's repository holds the work.

* ``student_workflow``: for the assignment's template repository (what ``grade init-ci``
  writes and what ``grade release`` ships).  It installs the student edition from the
  repository itself and runs its visible checks: no token, no secret, nothing hidden, so a
  student who edits it learns nothing they did not already have.
* ``instructor_workflow``: for the instructor's private repository (``grade init-ci
  --instructor``).  On a schedule or on demand it runs ``grade classroom``, which clones
  every student's repository, grades the last commit pushed before the deadline with the
  hidden tests, returns each report as FEEDBACK.md on a ``feedback`` branch and uploads the
  gradebook and the reports as an artifact.

``pick_submission`` decides where the student worked (the exercise files or the course
notebook).  The student workflow runs this very function's source, so the student's own
check and the instructor's grade always look at the same place.
"""

from __future__ import annotations

import inspect
import re
import textwrap


def pick_submission(repo):
    """Where the work is in a student's repository ``repo``: ``(path, reason)``, ``path``
    relative to ``repo`` ("exercises", "course.ipynb" or ".").

    The release's MANIFEST.json holds each handed-out file's sha256: the notebook is graded
    when it was edited and no exercise file was (or the exercises/ folder is gone);
    otherwise the exercise files are.  Standard library only (it also runs in the student
    workflow, before anything is installed)."""
    import hashlib
    import json
    import os

    def digest(path):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    folder = os.path.join(repo, "exercises")
    notebook = os.path.join(repo, "course.ipynb")
    has_folder, has_notebook = os.path.isdir(folder), os.path.isfile(notebook)
    if not has_notebook or os.path.islink(notebook):
        return ("exercises", "the exercise files") if has_folder else (".", "the repository's top folder")
    if not has_folder:
        return "course.ipynb", "the course notebook (there is no exercises/ folder)"
    try:
        with open(os.path.join(repo, "MANIFEST.json"), encoding="utf-8") as f:
            handed_out = json.load(f)["files"]
        if not isinstance(handed_out, dict):
            raise TypeError(handed_out)
    except (OSError, ValueError, KeyError, TypeError):
        return "exercises", "the exercise files (no MANIFEST.json from grade release to tell an edited notebook by)"

    def edited(rel):
        path = os.path.join(repo, rel)
        return os.path.isfile(path) and (rel not in handed_out or digest(path) != handed_out[rel])

    files = sorted(
        set(r for r in handed_out if r.startswith("exercises/"))
        | set("exercises/" + n for n in os.listdir(folder) if n.endswith(".py"))
    )
    files_edited = any(edited(r) for r in files)
    if edited("course.ipynb") and not files_edited:
        return "course.ipynb", "the course notebook (edited; the exercise files are as handed out)"
    if edited("course.ipynb"):
        return "exercises", "the exercise files (both were edited: the files are graded, not course.ipynb)"
    return "exercises", "the exercise files"


def _pick_script() -> str:
    """The student workflow's step: ``pick_submission`` on the checkout, written to the step's outputs."""
    return inspect.getsource(pick_submission) + textwrap.dedent("""\
        import os
        path, reason = pick_submission(".")
        print(f"Checking {reason}: {path}")
        with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as out:
            out.write(f"path={path}\\n")
        """)


def _block(text: str, indent: int) -> str:
    pad = " " * indent
    return "\n".join(pad + line if line else "" for line in text.splitlines())


STUDENT = """\
# Written by `grade init-ci` (nngrade {version}).{course_line}
# Checks this repository on every push with the student edition's VISIBLE tests, installed
# from this repository ({package}).  Nothing secret is here or reachable from here: no
# token, no hidden tests, no reference.  Your grade comes from the hidden tests, which the
# instructor runs on the last commit you pushed before the deadline; the report comes back
# as FEEDBACK.md on the `feedback` branch.
name: Check my exercises
"on":
  push:
  workflow_dispatch:
permissions:
  contents: read
jobs:
  check:
    runs-on: ubuntu-latest
    if: github.actor != 'github-classroom[bot]'
    timeout-minutes: 20
    steps:
      - uses: actions/checkout@v4
        with:
          persist-credentials: false
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install the student edition (visible checks only)
        run: |
          python -m pip install --quiet --index-url https://download.pytorch.org/whl/cpu torch
          python -m pip install --quiet {package}
      - name: Find the work (the exercise files, or course.ipynb when that is where you worked)
        id: work
        run: |
          python - <<'NNGRADE_PICK'
{script}
          NNGRADE_PICK
      - name: Check
        # GITHUB_ACTIONS=true: annotations on your lines and a job summary;
        # --exit-zero: the step fails only if the checker itself failed
        env:
          SUBMISSION: ${{{{ steps.work.outputs.path }}}}
        run: grade {exercises} --submission "$SUBMISSION" --exit-zero
"""

INSTRUCTOR = """\
# Written by `grade init-ci --instructor` (nngrade {version}).  For the instructor's PRIVATE
# repository (the one holding the hidden tests, reference/ and solutions/), never for a
# student's.  On a schedule and on demand: clone every student repository of {assignment},
# grade the last commit pushed before the deadline with the hidden tests, return each
# report as FEEDBACK.md on the student's `feedback` branch, and keep the gradebook and the
# reports as an artifact.  Secrets (in this repository's settings, never in a student's):
#   {token}: a token that can read the student repositories and push their feedback branch
#   GRADER_SEED_SECRET: any long random text, the same for every run (the seeds of the tests){course_line}
name: Grade {assignment}
"on":
  schedule:
    - cron: "{cron}"
  workflow_dispatch:
permissions:
  contents: read
concurrency:
  group: grade-{assignment}
  cancel-in-progress: false
jobs:
  grade:
    runs-on: ubuntu-latest
    timeout-minutes: 240
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.11"
      - name: Install nngrade{from_here} (the hidden tests stay here)
        run: |
          python -m pip install --quiet --index-url https://download.pytorch.org/whl/cpu torch torchvision
          python -m pip install --quiet {nngrade}
      - name: Collect, grade and return feedback
        env:
          GH_TOKEN: ${{{{ secrets.{token} }}}}
          GRADER_SEED_SECRET: ${{{{ secrets.GRADER_SEED_SECRET }}}}
        run: >-
          grade classroom --org {org} --assignment {assignment} --deadline {deadline}
          {url}{roster}{extensions}{course}--exercises {exercises} --out {out} --return-feedback
      - name: Keep the gradebook and the reports
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: grades-{assignment}
          if-no-files-found: warn
          path: |
            {out}/collect.csv
            {out}/results/grades.csv
            {out}/results/results.csv
            {out}/results/summary.html
            {out}/results/summary.json
            {out}/results/reports/
"""


def _course_line(title: str | None, detail: str) -> str:
    """The workflow's comment naming the course it grades (none for the built-in course)."""
    return f"\n# Course: {' '.join(title.split())}{detail}" if title else ""


def student_workflow(
    version: str, exercises: str = "all", package: str = "./package", course_title: str | None = None
) -> str:
    """The template repository's workflow.  It names no course folder: the student edition installed
    from ``package`` is built for one course (``grade release --course``) and grades that one."""
    return STUDENT.format(
        version=version,
        exercises=exercises,
        package=package,
        script=_block(_pick_script(), 10),
        course_line=_course_line(course_title, " (the student edition in the package grades it)."),
    )


def instructor_workflow(
    version: str,
    *,
    org: str,
    assignment: str,
    deadline: str,
    roster: str | None = None,
    extensions: str | None = None,
    exercises: str = "all",
    cron: str = "17 6 * * *",
    token: str = "CLASSROOM_TOKEN",
    out: str | None = None,
    url: str | None = None,
    course: str | None = None,
    course_title: str | None = None,
    nngrade: str = ".",
) -> str:
    """The private repository's workflow; ``course``: the course folder, relative to the repository's
    top (its checkout), that `grade classroom --course` grades with (None: the built-in course);
    ``nngrade``: what pip installs nngrade from (``.``: the repository, an nngrade checkout)."""
    return INSTRUCTOR.format(
        nngrade=nngrade,
        from_here=" from this repository" if nngrade == "." else "",
        course_line=_course_line(course_title, f" (the folder {course} of this repository)." if course else "."),
        course=f"--course {course} " if course else "",
        version=version,
        org=org,
        assignment=assignment,
        deadline=deadline,
        exercises=exercises,
        cron=cron,
        token=token,
        out=out or f"graded-{assignment}",
        url=f"--url '{url}' " if url else "",
        roster=f"--roster {roster} " if roster else "",
        extensions=f"--extensions {extensions} " if extensions else "",
    )


# what may go into a workflow's text unquoted: no quotes, $, spaces, newlines or YAML syntax
SAFE = re.compile(r"[A-Za-z0-9_.:/@+=-][A-Za-z0-9_.:/@+=~-]*")
# a repository URL template: the same, and the placeholders' braces (it is single-quoted)
SAFE_URL = re.compile(r"[A-Za-z0-9_.:/@+=~{}-]+")
