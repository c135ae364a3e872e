"""GitHub Classroom: the student repository's workflow holds nothing secret, the
instructor's side grades the last commit before each student's deadline and returns the
report on a ``feedback`` branch.

Local bare repositories (``file://`` URLs) stand in for GitHub; commit dates are set with
GIT_COMMITTER_DATE, which is what ``grade classroom`` reads when no push time is at hand.
The workflows are validated against GitHub's workflow schema as SchemaStore publishes it,
in the copy that the check-jsonschema package ships
(check_jsonschema/builtin_schemas/vendor/github-workflows.json).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

EX1 = "exercise1_softmax.py"
DEADLINE = "2026-03-01T12:00:00Z"
BEFORE, LONG_BEFORE, AFTER, DAY_AFTER = (
    "2026-02-28T12:00:00Z",
    "2026-02-27T12:00:00Z",
    "2026-03-01T13:00:00Z",
    "2026-03-02T12:00:00Z",
)
SOLUTION = (ROOT / "solutions" / EX1).read_text()
BROKEN = "def softmax(x, dim=-1):\n    raise RuntimeError('half done')\n"
SNOOP = (
    "import os\n\ndef softmax(x, dim=-1):\n"
    "    raise RuntimeError('env: ' + ' '.join(os.environ.get(k, '-') for k in ('GH_TOKEN', 'GITHUB_TOKEN')))\n"
)
GIT_ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="Student",
    GIT_AUTHOR_EMAIL="student@example.edu",
    GIT_COMMITTER_NAME="Student",
    GIT_COMMITTER_EMAIL="student@example.edu",
    GIT_CONFIG_GLOBAL=os.devnull,
    GIT_CONFIG_NOSYSTEM="1",
)


def workflow_schema() -> dict:
    from importlib.resources import files

    return json.loads((files("check_jsonschema") / "builtin_schemas" / "vendor" / "github-workflows.json").read_text())


def validate(text: str) -> dict:
    import jsonschema
    import yaml

    doc = yaml.safe_load(text)
    jsonschema.validate(doc, workflow_schema())
    return doc


def write_workflow(tmp_path, *args) -> Path:
    r = run_cli("init-ci", "--dir", tmp_path, *args)
    assert r.returncode == 0, r.stderr
    found = list((tmp_path / ".github" / "workflows").iterdir())
    assert len(found) == 1
    return found[0]


# ---------------------------------------------------------------------------
# the workflows


def test_student_workflow_is_valid_and_holds_no_secret(tmp_path):
    wf = write_workflow(tmp_path, "--exercises", "1", "2")
    text = wf.read_text()
    doc = validate(text)
    assert wf.name == "classroom.yml"
    body = json.dumps(doc).lower()  # what runs (the comments say, in words, that no token is here)
    assert "secrets" not in body and "token" not in body and "github.token" not in text
    assert doc["permissions"] == {"contents": "read"}
    steps = doc["jobs"]["check"]["steps"]
    assert steps[0]["with"]["persist-credentials"] is False  # the job's own token is not left in .git/config
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert "pip install --quiet ./package" in install["run"] and "git+" not in install["run"]
    check = steps[-1]
    assert check["run"] == 'grade exercise1 exercise2 --submission "$SUBMISSION" --exit-zero'
    assert check["env"]["SUBMISSION"] == "${{ steps.work.outputs.path }}"
    assert not any("autograding-grading-reporter" in s.get("uses", "") for s in steps)  # no points from visible checks
    before = text
    r = run_cli("init-ci", "--dir", tmp_path)
    assert r.returncode == 2 and "--force" in r.stderr and wf.read_text() == before


def install_step(doc: dict) -> list:
    """The words of the instructor's workflow's line that installs nngrade."""
    step = next(s for s in doc["jobs"]["grade"]["steps"] if s.get("name", "").startswith("Install nngrade"))
    return step["run"].splitlines()[-1].split()


def test_instructor_workflow_is_valid_and_runs_grade_classroom(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "nngrade"\n')  # an nngrade checkout
    wf = write_workflow(
        tmp_path,
        "--instructor",
        "--org",
        "cs101-fall",
        "--assignment",
        "hw3",
        "--deadline",
        "2026-12-01T23:59:00-05:00",
        "--roster",
        "classroom/roster.csv",
        "--extensions",
        "classroom/extensions.csv",
        "--exercises",
        "1",
        "3",
    )
    doc = validate(wf.read_text())
    assert wf.name == "grade-hw3.yml"
    assert install_step(doc) == ["python", "-m", "pip", "install", "--quiet", "."]
    assert set(doc["on"]) == {"schedule", "workflow_dispatch"} and doc["on"]["schedule"][0]["cron"] == "17 6 * * *"
    steps = doc["jobs"]["grade"]["steps"]
    grade = next(s for s in steps if "grade classroom" in s.get("run", ""))
    assert grade["run"].split() == [
        "grade",
        "classroom",
        "--org",
        "cs101-fall",
        "--assignment",
        "hw3",
        "--deadline",
        "2026-12-01T23:59:00-05:00",
        "--roster",
        "classroom/roster.csv",
        "--extensions",
        "classroom/extensions.csv",
        "--exercises",
        "exercise1",
        "exercise3",
        "--out",
        "graded-hw3",
        "--return-feedback",
    ]
    assert grade["env"] == {
        "GH_TOKEN": "${{ secrets.CLASSROOM_TOKEN }}",
        "GRADER_SEED_SECRET": "${{ secrets.GRADER_SEED_SECRET }}",
    }
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()"
    paths = upload["with"]["path"].split()
    assert "graded-hw3/results/grades.csv" in paths and "graded-hw3/results/reports/" in paths
    assert not any(".grader-secret" in p or p.rstrip("/").endswith("results") for p in paths)


@pytest.mark.parametrize(
    "args, says",
    [
        (["--org", "cs101"], "--instructor"),
        (["--instructor", "--org", "cs101", "--assignment", "hw3"], "--deadline"),
        (["--instructor", "--org", "cs101", "--assignment", "hw3", "--deadline", "2026-12-01T23:59"], "time zone"),
        (["--instructor", "--org", "cs 101", "--assignment", "hw3", "--deadline", "2026-12-01T23:59Z"], "--org"),
        (["--package", "git+https://user:pw@github.com/x/y"], "credentials"),
        (["--url", "file:///srv/{login}.git"], "--instructor"),
        (["--nngrade", "./nngrade.whl"], "--instructor"),
        (
            ["--instructor", "--org", "cs101", "--assignment", "hw3", "--deadline", "2026-12-01T23:59Z"],
            "is not an nngrade checkout",
        ),
        (
            [
                "--instructor",
                "--org",
                "cs",
                "--assignment",
                "hw3",
                "--deadline",
                "2026-12-01T23:59Z",
                "--nngrade",
                "a b",
            ],
            "--nngrade",
        ),
        (
            [
                "--instructor",
                "--org",
                "cs101",
                "--assignment",
                "hw3",
                "--deadline",
                "2026-12-01T23:59Z",
                "--url",
                "https://x:y@github.com/{org}/{login}",
            ],
            "credentials",
        ),
    ],
)
def test_init_ci_refuses_in_one_line(tmp_path, args, says):
    r = run_cli("init-ci", "--dir", tmp_path, *args)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / ".github").exists()


COURSE_TITLE = "Deep learning, the next steps"


def test_workflows_of_a_course_of_one_s_own(tmp_path):
    """--course: the student workflow checks with the course's student edition (no folder to name:
    the release is that course's), the instructor's grades with the course folder committed in the
    private repository; the course's exercises, not the built-in nine."""
    import shutil

    repo = tmp_path / "private"
    shutil.copytree(ROOT / "examples" / "course", repo / "courses" / "dl2")
    student = tmp_path / "template"
    wf = write_workflow(student, "--course", repo / "courses" / "dl2", "--exercises", "layer_norm", "dropout")
    text = wf.read_text()
    doc = validate(text)
    assert f"# Course: {COURSE_TITLE}" in text and "--course" not in json.dumps(doc)
    assert doc["jobs"]["check"]["steps"][-1]["run"].startswith("grade exercise1 exercise2 --submission")
    r = run_cli("init-ci", "--dir", tmp_path / "builtin", "--exercises", "layer_norm")
    assert r.returncode == 2 and "no exercise called 'layer_norm'" in r.stderr  # not an exercise of the nine
    whole = write_workflow(tmp_path / "whole", "--course", repo / "courses" / "dl2", "-e", "1", "2", "3", "4")
    assert yaml_run(whole).startswith("grade all --submission")  # all four: the course's all

    instructor = ["--instructor", "--org", "cs101", "--assignment", "hw4", "--deadline", "2026-12-15T23:59Z"]
    # a repository that holds the course, not nngrade: `pip install .` could not install grade there
    r = run_cli("init-ci", "--dir", repo, "--course", repo / "courses" / "dl2", *instructor)
    assert r.returncode == 2 and "is not an nngrade checkout" in r.stderr and "--nngrade" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (repo / ".github").exists()
    wheel = "./wheels/nngrade-0.1.0-py3-none-any.whl"
    wf = write_workflow(repo, "--course", repo / "courses" / "dl2", *instructor, "--nngrade", wheel)
    text = wf.read_text()
    doc = validate(text)
    assert install_step(doc) == ["python", "-m", "pip", "install", "--quiet", wheel]
    grade = next(s for s in doc["jobs"]["grade"]["steps"] if "grade classroom" in s.get("run", ""))
    words = grade["run"].split()
    assert words[words.index("--course") + 1] == "courses/dl2" and words[words.index("--exercises") + 1] == "all"
    assert f"# Course: {COURSE_TITLE} (the folder courses/dl2 of this repository)" in text

    elsewhere = tmp_path / "other-repo"
    r = run_cli("init-ci", "--dir", elsewhere, "--course", repo / "courses" / "dl2", *instructor, "--nngrade", wheel)
    assert r.returncode == 2 and "is not in the repository" in r.stderr and "commit the course folder" in r.stderr
    assert "Traceback" not in r.stderr and not (elsewhere / ".github").exists()


def yaml_run(workflow: Path) -> str:
    import yaml

    return yaml.safe_load(workflow.read_text())["jobs"]["check"]["steps"][-1]["run"]


# ---------------------------------------------------------------------------
# where the student worked: the student workflow's step and the instructor's side agree


def template(folder: Path) -> Path:
    """A Classroom template repository as grade release lays it out: the stubs, the
    notebook, MANIFEST.json (sha256 of each file) and the student workflow."""
    import nbformat

    from grader.exercises import EXERCISES
    from grader.formats.workflows import student_workflow
    from grader.submission.notebook import course_notebook

    stubs = {ex.file: (ROOT / "exercises" / ex.file).read_text() for ex in EXERCISES}
    (folder / "exercises").mkdir(parents=True)
    for name, text in stubs.items():
        (folder / "exercises" / name).write_text(text)
    nbformat.write(course_notebook(stubs), str(folder / "course.ipynb"))
    (folder / ".github" / "workflows").mkdir(parents=True)
    (folder / ".github" / "workflows" / "classroom.yml").write_text(student_workflow("test"))
    files = {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
    (folder / "MANIFEST.json").write_text(json.dumps({"files": files}, indent=1) + "\n")
    return folder


def notebook_with(path: Path, exercise: int, source: str) -> None:
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("tags") == [f"exercise{exercise}"])
    cell.source = f"%%exercise {exercise}\n{source}"
    nbformat.write(nb, str(path))


def run_pick_step(repo: Path, tmp_path) -> str:
    """The student workflow's "Find the work" step, run as Actions runs it (bash, GITHUB_OUTPUT)."""
    import yaml

    doc = yaml.safe_load((repo / ".github" / "workflows" / "classroom.yml").read_text())
    step = next(s for s in doc["jobs"]["check"]["steps"] if s.get("id") == "work")
    out = tmp_path / "github_output"
    out.write_text("")
    r = subprocess.run(
        ["bash", "-e", "-c", step["run"].replace("python -", f"{sys.executable} -", 1)],
        cwd=repo,
        capture_output=True,
        text=True,
        env=dict(os.environ, GITHUB_OUTPUT=str(out)),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return dict(line.split("=", 1) for line in out.read_text().splitlines())["path"]


def test_the_notebook_is_checked_when_that_is_where_the_student_worked(tmp_path):
    from grader.formats.workflows import pick_submission

    repo = template(tmp_path / "repo")
    assert run_pick_step(repo, tmp_path) == "exercises" == pick_submission(str(repo))[0]  # untouched
    notebook_with(repo / "course.ipynb", 1, SOLUTION)
    assert run_pick_step(repo, tmp_path) == "course.ipynb" == pick_submission(str(repo))[0]
    (repo / "exercises" / EX1).write_text(SOLUTION)  # both edited: the files
    assert run_pick_step(repo, tmp_path) == "exercises" == pick_submission(str(repo))[0]
    (repo / "MANIFEST.json").unlink()
    assert pick_submission(str(repo)) == ("exercises", pick_submission(str(repo))[1])


# ---------------------------------------------------------------------------
# grade classroom, end to end against bare repositories


def git(*args, cwd=None, when=None):
    env = dict(GIT_ENV, **({"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when} if when else {}))
    r = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def student_repo(remotes: Path, base: Path, login: str, commits) -> list:
    """A bare repository hw1-LOGIN.git holding ``commits``: [(when, {path: text or None})],
    each on top of the template; returns the commits' shas."""
    work = base / login
    template(work)
    git("init", "-q", "-b", "main", cwd=work)
    bare = remotes / f"hw1-{login}.git"
    git("init", "-q", "--bare", "-b", "main", str(bare))
    shas = []
    for when, files in commits:
        for rel, text in files.items():
            if rel == "notebook":
                notebook_with(work / "course.ipynb", 1, text)
            else:
                (work / rel).write_text(text)
        git("add", "-A", cwd=work)
        git("commit", "-q", "--allow-empty", "-m", f"work {when}", cwd=work, when=when)
        shas.append(git("rev-parse", "HEAD", cwd=work))
    git("push", "-q", str(bare), "main", cwd=work)
    return shas


def feedback(remotes: Path, login: str):
    bare = remotes / f"hw1-{login}.git"
    r = subprocess.run(
        ["git", "-C", str(bare), "rev-parse", "--verify", "--quiet", "refs/heads/feedback"],
        capture_output=True,
        text=True,
        env=GIT_ENV,
    )
    if r.returncode != 0:
        return None, None
    tip = r.stdout.strip()
    return tip, git("-C", str(bare), "show", f"{tip}:FEEDBACK.md")


@pytest.mark.slow
def test_classroom_grades_the_last_commit_before_each_deadline_and_returns_feedback(tmp_path):
    remotes, base = tmp_path / "remotes", tmp_path / "students"
    remotes.mkdir()
    alice = student_repo(
        remotes, base, "alice", [(BEFORE, {f"exercises/{EX1}": SOLUTION}), (AFTER, {f"exercises/{EX1}": BROKEN})]
    )  # late: must not count
    bob = student_repo(remotes, base, "bob", [(LONG_BEFORE, {}), (DAY_AFTER, {f"exercises/{EX1}": SOLUTION})])
    carol = student_repo(remotes, base, "carol", [(BEFORE, {"notebook": SOLUTION})])  # works in course.ipynb
    frank = student_repo(remotes, base, "frank", [(BEFORE, {f"exercises/{EX1}": SOLUTION})])
    student_repo(remotes, base, "mallory", [(BEFORE, {f"exercises/{EX1}": SNOOP})])
    roster = tmp_path / "classroom_roster.csv"
    roster.write_text(
        "identifier,github_username,github_id,name\nm@uni.edu,mallory,7,Mallory M\n"
        "alice@uni.edu,alice,1,Alice A\nbob@uni.edu,bob,2,Bob B\ncarol@uni.edu,carol,3,Carol C\n"
        "dave@uni.edu,dave,4,Dave D\nerin@uni.edu,,,Erin E\nfrank@uni.edu,frank,6,Frank F\n"
    )
    extensions = tmp_path / "extensions.csv"
    extensions.write_text("github_username,deadline\nbob,3d\nfrank,2099-01-01T00:00:00Z\n")
    # the instructor's workflow, its grading step run here as Actions would run it
    course = tmp_path / "course"
    wf = write_workflow(
        course,
        "--instructor",
        "--org",
        "cs101",
        "--assignment",
        "hw1",
        "--deadline",
        DEADLINE,
        "--roster",
        roster,
        "--extensions",
        extensions,
        "--exercises",
        "1",
        "--url",
        f"file://{remotes}/{{assignment}}-{{login}}.git",
        "--nngrade",
        "./wheels/nngrade-0.1.0-py3-none-any.whl",
    )
    steps = validate(wf.read_text())["jobs"]["grade"]["steps"]
    step = next(s for s in steps if "grade classroom" in s.get("run", ""))
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    out = course / "graded-hw1"
    r = run_step(step, course)
    assert r.returncode == 1, r.stderr  # dave has no repository, erin no GitHub account
    for path in upload["with"]["path"].split():
        assert (course / path).exists(), path
    rows = {row["github_username"]: row for row in csv.DictReader(io.StringIO((out / "collect.csv").read_text()))}
    assert rows["alice"]["commit"] == alice[0] and rows["alice"]["pushed_at"] == BEFORE
    assert rows["bob"]["commit"] == bob[1] and rows["bob"]["deadline"] == "2026-03-04T12:00:00Z (extension)"
    assert rows["carol"]["commit"] == carol[0] and rows["carol"]["graded_from"] == "course.ipynb"
    assert rows["alice"]["graded_from"] == "exercises"
    assert all(
        "committer date" in rows[s]["time_source"] and "forge" in rows[s]["time_source"]
        for s in ("alice", "bob", "carol")
    )
    assert rows["dave"]["status"].startswith("not collected: git clone: fatal:") and not rows["dave"]["commit"]
    assert rows[""]["status"].startswith("not collected: no GitHub account linked") and "Erin E" in rows[""]["status"]
    assert rows["frank"]["status"] == "graded; feedback held until the deadline" and rows["frank"]["commit"] == frank[0]
    results = {
        row["Student"]: row for row in csv.DictReader(io.StringIO((out / "results" / "results.csv").read_text()))
    }
    assert {s: results[s]["Total"] for s in ("alice", "bob", "carol", "frank")} == dict.fromkeys(
        ("alice", "bob", "carol", "frank"), "10.00"
    )
    assert "dave" not in results  # never a score for what was not collected
    snooped = (out / "results" / "reports" / "mallory.json").read_text()
    assert "env: - -" in snooped and "sekrit" not in snooped  # the token never reaches student code
    for login, sha in (("alice", alice[0]), ("bob", bob[1]), ("carol", carol[0])):
        assert rows[login]["status"] == "graded; feedback pushed"
        tip, text = feedback(remotes, login)
        assert text.startswith("# Feedback: hw1") and sha in text and "10.00 / 10" in text, text
        assert git("-C", str(remotes / f"hw1-{login}.git"), "rev-parse", f"{tip}^") == sha  # on top of what was graded
    assert feedback(remotes, "frank") == (None, None)
    assert "Student" in git("-C", str(remotes / "hw1-alice.git"), "log", "-1", "--format=%an", "main")  # main untouched

    before = (out / "collect.csv").read_text()
    tips = {s: feedback(remotes, s)[0] for s in ("alice", "bob", "carol")}
    r = run_step(step, course)  # again: the same result, nothing pushed twice
    assert r.returncode == 1, r.stderr
    again = (out / "collect.csv").read_text()
    assert again == before.replace("feedback pushed", "feedback unchanged")
    assert {s: feedback(remotes, s)[0] for s in ("alice", "bob", "carol")} == tips


def test_push_times_from_github_win_over_a_forged_committer_date(tmp_path, monkeypatch):
    """On github.com the branch at the deadline is what GitHub's repository activity API
    says was pushed by then; a commit pushed late with a backdated committer date does not count."""
    from grader.commands import classroom

    remotes = tmp_path / "remotes"
    remotes.mkdir()
    shas = student_repo(
        remotes,
        tmp_path / "students",
        "mallory",
        [(LONG_BEFORE, {f"exercises/{EX1}": BROKEN}), (BEFORE, {f"exercises/{EX1}": SOLUTION})],
    )
    pushes = [
        {"after": shas[0], "timestamp": "2026-02-27T12:00:05Z", "activity_type": "push"},
        {"after": shas[1], "timestamp": "2026-03-01T15:00:00Z", "activity_type": "push"},
    ]  # pushed late
    asked = []
    monkeypatch.setattr(classroom, "_token", lambda: "t")
    monkeypatch.setattr(classroom, "_api", lambda path: asked.append(path) or [pushes])
    clone, env = tmp_path / "clone.git", classroom._git_env("file://")
    classroom.update_clone(f"file://{remotes}/hw1-mallory.git", clone, env)
    deadline = classroom.parse_time(DEADLINE, "deadline")
    url = "https://github.com/cs101/hw1-mallory.git"
    assert classroom.commit_at_deadline(clone, url, "main", deadline, env) == (
        shas[0],
        classroom.parse_time("2026-02-27T12:00:05Z", "t"),
        "push time (GitHub activity API)",
    )
    assert asked == ["/repos/cs101/hw1-mallory/activity?ref=refs/heads/main&direction=asc"]
    # without push times, the committer date decides, and says it can be forged
    monkeypatch.setattr(classroom, "_token", lambda: "")
    sha, _, how = classroom.commit_at_deadline(clone, url, "main", deadline, env)
    assert sha == shas[1] and "forge" in how


def test_without_a_roster_the_class_is_the_organisation_s_repositories(monkeypatch):
    from grader.commands import classroom

    pages = (
        '[{"name": "hw1-alice", "description": "]["}, {"name": "hw2-alice"}]\n[{"name": "HW1-Bob"}, {"name": "hw1-"}]'
    )
    assert classroom._json_stream(pages)[0][0]["description"] == "]["
    monkeypatch.setattr(classroom, "_api", lambda path: classroom._json_stream(pages))
    assert [s["login"] for s in classroom.org_students("cs101", "hw1")] == ["Bob", "alice"]


def run_step(step: dict, cwd: Path):
    """A workflow step's ``run`` as Actions runs it, its secrets stood in for (a token that
    file:// URLs do not need, and the seeds' secret)."""
    env = dict(os.environ, **{k: "" for k in step.get("env", {})})
    env.update(
        GH_TOKEN="sekrit",
        GITHUB_TOKEN="sekrit",
        GRADER_SEED_SECRET="classroom test",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    )
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=cwd, capture_output=True, text=True, timeout=600, env=env
    )


@pytest.mark.parametrize(
    "args, says",
    [
        ([], "--roster"),
        (["--roster", "ROSTER", "--deadline", "2026-03-01T12:00"], "time zone"),
        (["--roster", "ROSTER", "--deadline", "tomorrow"], "ISO 8601"),
        (["--roster", "ROSTER", "--extensions", "EXT"], "github_username and deadline"),
        (["--roster", "EXT"], "github_username column"),
    ],
)
def test_classroom_refuses_in_one_line(tmp_path, args, says):
    roster, ext = tmp_path / "roster.csv", tmp_path / "ext.csv"
    roster.write_text("identifier,github_username,github_id,name\na,alice,1,A\n")
    ext.write_text("login,when\nalice,2d\n")
    args = [str(roster) if a == "ROSTER" else str(ext) if a == "EXT" else a for a in args]
    if "--deadline" not in args:
        args += ["--deadline", DEADLINE]
    if "--roster" in args:
        args += ["--org", "cs101"]
    r = run_cli("classroom", "--assignment", "hw1", "--out", tmp_path / "out", *args)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()
