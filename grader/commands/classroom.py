"""``grade classroom``: grade a GitHub Classroom assignment from the instructor's side.

Clone (or update) every student's repository, take the last commit pushed before the
student's deadline, export its files (no checkout, no hooks, no links), keep the part that
holds the work (``grader.formats.workflows.pick_submission``: the exercise files or the
course notebook), grade them all with ``grade batch`` and the hidden suites, and, with
``--return-feedback``, push each report as FEEDBACK.md on the student's ``feedback`` branch.

Where the pushes' times come from: GitHub's repository activity API (the time GitHub
received each push, which students cannot change) when the repository is on github.com
and a token is at hand; otherwise the commit's committer date, which a student can set to
anything (``GIT_COMMITTER_DATE``) and which is recorded as such in collect.csv.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

from grader.course import add_option, apply
from grader.exercises import add_exercises_option

EXIT_OK, EXIT_SOME, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
MARKER = "classroom.json"
GIT_TIMEOUT = 300
MAX_FILE = 8 << 20  # a blob larger than this is not exported (exercise files are at most 1 MiB anyway)
LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})")
COLUMNS = ("github_username", "repository", "deadline", "commit", "pushed_at", "time_source", "graded_from", "status")

DESCRIPTION = """\
Grade a GitHub Classroom assignment with the hidden tests, from your side: clone
every student's repository, grade the last commit pushed before the deadline
(per-student extensions allowed), and return each student's report to their
repository as FEEDBACK.md on a `feedback` branch.  Student repositories hold the
student edition only; the hidden tests never leave the machine that runs this.
"""

EPILOG = """\
who is in the class (one of):
  --roster classroom_roster.csv   Classroom's roster export ("Download" on the
        Students tab: identifier, github_username, github_id, name) or its grades
        export (github_username, student_repository_url); students without a
        linked GitHub account are listed in collect.csv, not graded
  --org ORG (no --roster)         every repository of ORG named ASSIGNMENT-LOGIN
        (needs the GitHub API: `gh` logged in, or GH_TOKEN / GITHUB_TOKEN)

where the repositories are (--url, placeholders {org} {assignment} {login}):
  default https://github.com/{org}/{assignment}-{login}.git   (Classroom's naming)
  file:///srv/git/{assignment}-{login}.git                   (any git URL works)
  A token in GH_TOKEN or GITHUB_TOKEN is given to git for github.com (through the
  environment, never on a command line).

the deadline: an ISO 8601 time with its time zone (2026-12-01T23:59:00-05:00 or
  ...Z).  --extensions CSV: columns github_username and deadline, the deadline an
  ISO time or a delay added to the course's (48h, 3d).  A student's commit counts
  if it was pushed by their deadline: the push time from GitHub's repository
  activity API when the repository is on github.com and a token is at hand,
  otherwise the commit's committer date, which a student can forge (collect.csv
  says which was used for each student).

what DIR holds (run the same command again to update; unchanged students are not
regraded):
  collect.csv         per student: repository, deadline, the commit graded, when it
                      was pushed and how that is known, what was graded (exercises/
                      or course.ipynb), and a status
  results/            `grade batch`'s output: grades.csv, results.csv, summary.html,
                      reports/LOGIN.html and .json (see: grade batch --help)
  repos/ work/ submissions/   the clones, the exported commits, the batch's input

feedback (--return-feedback): for each graded student whose deadline has passed,
  FEEDBACK.md (the report, and the commit it grades) is committed on top of their
  `feedback` branch (created from the graded commit when missing) and pushed; a
  report that did not change is not pushed again.

exit status: 0 every student collected and graded, 1 some could not be (see
  collect.csv and the last lines), 2 bad command line, 3 internal error.

examples:
  grade classroom --roster classroom_roster.csv --org cs101-fall --assignment hw3 \\
      --deadline 2026-12-01T23:59:00-05:00 --extensions extensions.csv --out hw3
  grade classroom --org cs101-fall --assignment hw3 --deadline 2026-12-01T23:59Z \\
      --out hw3 --return-feedback
  grade init-ci --instructor ...   the same, on a schedule, in your private repository
"""


class Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise Usage(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="grade classroom",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--out",
        "-o",
        type=Path,
        required=True,
        metavar="DIR",
        help="where the clones, collect.csv and the results go (new, or a previous run's)",
    )
    p.add_argument(
        "--assignment",
        "-a",
        required=True,
        metavar="PREFIX",
        help="the assignment's repository prefix in Classroom (hw3 for hw3-LOGIN)",
    )
    p.add_argument("--deadline", required=True, metavar="TIME", help="ISO 8601 with a time zone")
    p.add_argument("--roster", type=Path, metavar="CSV", help="Classroom's roster (or grades) export")
    p.add_argument("--org", metavar="ORG", help="the GitHub organisation of the classroom")
    p.add_argument(
        "--url",
        metavar="TEMPLATE",
        default="https://github.com/{org}/{assignment}-{login}.git",
        help="each student's repository (default: https://github.com/{org}/{assignment}-{login}.git)",
    )
    p.add_argument("--branch", metavar="NAME", help="the branch graded (default: the repository's default branch)")
    p.add_argument("--extensions", type=Path, metavar="CSV", help="per-student deadlines: github_username,deadline")
    add_exercises_option(p)
    p.add_argument("--jobs", "-j", type=int, metavar="N", help="submissions graded in parallel (grade batch --jobs)")
    p.add_argument(
        "--return-feedback",
        action="store_true",
        help="push each report as FEEDBACK.md on the student's feedback branch (after their deadline)",
    )
    p.add_argument("--timeout-scale", type=float, metavar="X", help="grade batch --timeout-scale")
    add_option(p)  # the batch it runs grades with that course (GRADER_COURSE passes to it)
    return p


# -- times ------------------------------------------------------------------------------------


def parse_time(text: str, what: str) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Usage(f"{what} {text!r} is not an ISO 8601 time (e.g. 2026-12-01T23:59:00-05:00)") from None
    if t.tzinfo is None:
        raise Usage(f"{what} {text!r} has no time zone: add one (2026-12-01T23:59:00-05:00, or Z for UTC)")
    return t.astimezone(dt.timezone.utc)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _delay(text: str):
    m = re.fullmatch(r"\+?\s*(\d+(?:\.\d+)?)\s*([dhm])", text.strip().lower())
    if not m:
        return None
    unit = {"d": "days", "h": "hours", "m": "minutes"}[m[2]]
    return dt.timedelta(**{unit: float(m[1])})


# -- the class --------------------------------------------------------------------------------


def _read_csv(path: Path, what: str) -> list:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise Usage(f"cannot read {what} {path} ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise Usage(f"{what} {path} is not UTF-8 text (save it as CSV, UTF-8)") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    return [{(k or "").strip().lower(): (v or "").strip() for k, v in r.items()} for r in rows]


def read_roster(path: Path) -> list:
    """Classroom's roster or grades export: [{login, name, url}] (login "" when not linked)."""
    rows = _read_csv(path, "the roster")
    if not rows or "github_username" not in rows[0]:
        raise Usage(
            f"the roster {path} has no github_username column: give GitHub Classroom's roster export "
            "(Students tab, Download: identifier, github_username, github_id, name)"
        )
    out = []
    for r in rows:
        login = r.get("github_username", "")
        if login and not LOGIN.fullmatch(login):
            raise Usage(f"the roster {path}: {login!r} is not a GitHub username")
        out.append(
            {
                "login": login,
                "name": r.get("name") or r.get("identifier") or r.get("roster_identifier", ""),
                "url": r.get("student_repository_url", ""),
            }
        )
    return out


def read_extensions(path: Path, deadline: dt.datetime) -> dict:
    rows = _read_csv(path, "the extensions")
    if rows and not {"github_username", "deadline"} <= set(rows[0]):
        raise Usage(f"the extensions {path} need the columns github_username and deadline")
    out = {}
    for r in rows:
        login, when = r["github_username"], r["deadline"]
        if not login:
            continue
        delay = _delay(when)
        out[login.lower()] = (
            deadline + delay if delay is not None else parse_time(when, f"the extensions {path}: {login}'s deadline")
        )
    return out


_GH_TOKEN: list = []


def _token() -> str:
    """GH_TOKEN, GITHUB_TOKEN, else the token of a logged-in `gh` (asked once), else ""."""
    token = os.environ.get("GH_TOKEN") or os.environ.get("GITHUB_TOKEN")
    if token:
        return token
    if not _GH_TOKEN:
        found = ""
        if shutil.which("gh"):
            try:
                r = subprocess.run(["gh", "auth", "token"], capture_output=True, text=True, timeout=60)
                found = r.stdout.strip() if r.returncode == 0 else ""
            except (OSError, subprocess.TimeoutExpired):
                pass
        _GH_TOKEN.append(found)
    return _GH_TOKEN[0]


def _api(path: str) -> list:
    """GET a paginated GitHub REST endpoint: through `gh` when installed, else with the token."""
    if shutil.which("gh"):
        r = subprocess.run(["gh", "api", "--paginate", path], capture_output=True, text=True, timeout=GIT_TIMEOUT)
        if r.returncode != 0:
            raise OSError(f"gh api {path}: {r.stderr.strip() or 'failed'}")
        return _json_stream(r.stdout)
    token = _token()
    if not token:
        raise OSError("the GitHub API needs `gh` (logged in) or a token in GH_TOKEN or GITHUB_TOKEN")
    import urllib.request

    out, url = [], "https://api.github.com" + path + ("&" if "?" in path else "?") + "per_page=100"
    while url:
        req = urllib.request.Request(
            url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            out.append(json.load(resp))
            m = re.search(r'<([^>]+)>;\s*rel="next"', resp.headers.get("Link", ""))
            url = m[1] if m else ""
    return out


def _json_stream(text: str) -> list:
    """The pages `gh api --paginate` prints one after another ([...][...]): a list of them."""
    decoder, pages, pos = json.JSONDecoder(), [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return pages
        page, pos = decoder.raw_decode(text, pos)
        pages.append(page)


def org_students(org: str, assignment: str) -> list:
    pages = _api(f"/orgs/{urllib.parse.quote(org)}/repos?type=all")
    prefix = assignment.lower() + "-"
    names = sorted(r["name"] for page in pages for r in page if r["name"].lower().startswith(prefix))
    return [{"login": n[len(prefix) :], "name": "", "url": ""} for n in names if LOGIN.fullmatch(n[len(prefix) :])]


# -- git --------------------------------------------------------------------------------------


def _git_env(url: str) -> dict:
    env = dict(
        os.environ,
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",
        LC_ALL="C",
        GIT_AUTHOR_NAME="nngrade",
        GIT_AUTHOR_EMAIL="nngrade@users.noreply.github.com",
        GIT_COMMITTER_NAME="nngrade",
        GIT_COMMITTER_EMAIL="nngrade@users.noreply.github.com",
    )
    token = _token()
    if token and url.startswith("https://github.com/"):
        import base64

        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.https://github.com/.extraheader",
            GIT_CONFIG_VALUE_0=f"AUTHORIZATION: basic {basic}",
        )
    return env


class GitError(Exception):
    pass


def git(repo, *args, env, data=None, text=True):
    cmd = ["git", *(["-C", str(repo)] if repo else []), *args]
    try:
        r = subprocess.run(cmd, input=data, capture_output=True, text=text, env=env, timeout=GIT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took more than {GIT_TIMEOUT} s") from None
    if r.returncode != 0:
        err = (r.stderr if text else r.stderr.decode(errors="replace")).strip().splitlines()
        fatal = [line for line in err if line.startswith(("fatal:", "error:", "remote:"))]
        raise GitError(f"git {args[0]}: {(fatal or err or ['failed'])[0]}")
    return r.stdout


def _safe_url(url: str) -> str:
    """The URL without credentials, for collect.csv and messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        parts = parts._replace(netloc=(parts.hostname or "") + (f":{parts.port}" if parts.port else ""))
    return urllib.parse.urlunsplit(parts)


def update_clone(url: str, clone: Path, env) -> None:
    if (clone / "HEAD").is_file():
        git(clone, "remote", "set-url", "origin", url, env=env)
        git(clone, "fetch", "--quiet", "--prune", "--force", "origin", "+refs/heads/*:refs/heads/*", env=env)
    else:
        tmp = clone.with_name(clone.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        git(None, "clone", "--quiet", "--bare", "--no-tags", url, str(tmp), env=env)
        os.replace(tmp, clone)


def default_branch(clone: Path, env) -> str:
    return git(clone, "symbolic-ref", "--short", "HEAD", env=env).strip()


def _github_repo(url: str):
    m = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", url)
    return (m[1], m[2]) if m else None


def commit_at_deadline(clone: Path, url: str, branch: str, deadline: dt.datetime, env):
    """(sha or None, pushed_at or None, time_source): the branch as it was at ``deadline``."""
    gh = _github_repo(url)
    pages, why = None, ""
    if gh and _token():
        try:
            pages = _api(f"/repos/{gh[0]}/{gh[1]}/activity?ref=refs/heads/{urllib.parse.quote(branch)}&direction=asc")
        except (OSError, ValueError) as e:
            why = f"GitHub's activity API failed ({e}); "
    if pages is not None:
        last = None
        for a in (a for page in pages for a in page):
            when = parse_time(a["timestamp"], "activity")
            if when <= deadline and (last is None or when >= last[1]):
                last = (a.get("after") or "", when)
        if last is None or not last[0] or set(last[0]) == {"0"}:
            return None, None, "push time (GitHub activity API)"
        sha = last[0]
        try:
            git(clone, "cat-file", "-e", f"{sha}^{{commit}}", env=env)
        except GitError:
            git(clone, "fetch", "--quiet", "origin", sha, env=env)
        return sha, last[1], "push time (GitHub activity API)"
    how = f"committer date ({why}a student can forge it)"
    log = git(clone, "log", "--first-parent", "--format=%H %ct", branch, "--", env=env)
    for line in log.splitlines():
        sha, ct = line.split()
        when = dt.datetime.fromtimestamp(int(ct), dt.timezone.utc)
        if when <= deadline:
            return sha, when, how
    return None, None, how


def export(clone: Path, sha: str, dest: Path, env) -> list:
    """Write the commit's regular files under ``dest`` (links, submodules and files over
    MAX_FILE are left out: returned as notes).  Nothing of the repository runs."""
    notes = []
    listing = git(clone, "ls-tree", "-r", "-z", "--full-tree", "-l", sha, env=env)
    wanted = []
    for entry in filter(None, listing.split("\0")):
        meta, path = entry.split("\t", 1)
        mode, kind, obj, size = meta.split()
        if kind != "blob" or mode not in ("100644", "100755"):
            notes.append(f"{path} ({'a link' if mode == '120000' else kind}) not exported")
            continue
        if int(size) > MAX_FILE:
            notes.append(f"{path} ({int(size)} bytes) not exported")
            continue
        parts = Path(path).parts
        if any(p in ("..", ".git") for p in parts) or Path(path).is_absolute():
            continue
        wanted.append((path, obj))
    if not wanted:
        return notes
    blobs = git(clone, "cat-file", "--batch", env=env, data="".join(f"{o}\n" for _, o in wanted).encode(), text=False)
    pos = 0
    for path, _obj in wanted:
        header_end = blobs.index(b"\n", pos)
        size = int(blobs[pos:header_end].split()[2])
        body = blobs[header_end + 1 : header_end + 1 + size]
        pos = header_end + 1 + size + 1
        target = dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    return notes


FEEDBACK_HEAD = """\
# Feedback: {assignment}

Graded with the hidden tests: commit `{sha}` on `{branch}`, {how} {pushed}; your deadline {deadline}.
Graded from {graded_from}.  Questions about this report: ask your instructor.

"""


def push_feedback(clone: Path, url: str, sha: str, text: str, env) -> str:
    """Commit FEEDBACK.md on the feedback branch and push it: "pushed" or "unchanged"."""
    try:
        base = git(clone, "rev-parse", "--verify", "--quiet", "refs/heads/feedback^{commit}", env=env).strip()
    except GitError:
        base = sha
    blob = git(clone, "hash-object", "-w", "--stdin", env=env, data=text.encode(), text=False).decode().strip()
    index = (clone / "nngrade-feedback.index").absolute()  # git reads GIT_INDEX_FILE from inside the clone
    ienv = dict(env, GIT_INDEX_FILE=str(index))
    try:
        git(clone, "read-tree", base, env=ienv)
        git(clone, "update-index", "--add", "--cacheinfo", f"100644,{blob},FEEDBACK.md", env=ienv)
        tree = git(clone, "write-tree", env=ienv).strip()
    finally:
        index.unlink(missing_ok=True)
    if tree == git(clone, "rev-parse", f"{base}^{{tree}}", env=env).strip():
        return "unchanged"
    commit = git(clone, "commit-tree", tree, "-p", base, "-m", f"Feedback on {sha[:12]} (nngrade)", env=env).strip()
    git(clone, "push", "--quiet", "origin", f"{commit}:refs/heads/feedback", env=env)
    git(clone, "update-ref", "refs/heads/feedback", commit, env=env)
    return "pushed"


# -- the run ----------------------------------------------------------------------------------


def _fail(message: str) -> int:
    print(f"grade classroom: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser().parse_args(argv)
        error = apply(args.course)
        if error:
            return _fail(error)
        return run(args)
    except Usage as e:
        return _fail(f"{e} (see: grade classroom --help)")
    except KeyboardInterrupt:
        print("\ngrade classroom: interrupted; run the same command again to go on", file=sys.stderr)
        return 130
    except OSError as e:
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        print(f"grade classroom: error: cannot write{where} ({e.strerror or e})", file=sys.stderr)
        return EXIT_INTERNAL


def _check(args) -> tuple:
    from grader.exercises import select

    try:
        select(args.exercises)
    except KeyError as e:
        raise Usage(e.args[0]) from None
    if not re.fullmatch(r"[A-Za-z0-9._-]+", args.assignment):
        raise Usage(f"--assignment {args.assignment!r}: give the repository prefix, e.g. hw3")
    deadline = parse_time(args.deadline, "--deadline")
    if args.roster is None and args.org is None:
        raise Usage(
            "say who is in the class: --roster (Classroom's roster export) or --org (every ASSIGNMENT-LOGIN "
            "repository of the organisation)"
        )
    if "{org}" in args.url and not args.org:
        raise Usage(f"--url {args.url} needs --org (or give --url without {{org}})")
    if args.jobs is not None and args.jobs < 1:
        raise Usage("--jobs must be at least 1")
    if not shutil.which("git"):
        raise Usage("git is not installed (it is needed to clone the students' repositories)")
    out = args.out
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).is_file())):
        raise Usage(f"--out {out} is not empty and not a previous grade classroom run's folder; give a new one")
    extensions = read_extensions(args.extensions, deadline) if args.extensions else {}
    return deadline, extensions


def run(args) -> int:
    deadline, extensions = _check(args)
    if args.roster is not None:
        students = read_roster(args.roster)
    else:
        try:
            students = org_students(args.org, args.assignment)
        except (OSError, ValueError, KeyError) as e:
            print(f"grade classroom: error: cannot list {args.org}'s repositories: {e}", file=sys.stderr)
            return EXIT_SOME
    logins = [s["login"].lower() for s in students if s["login"]]
    unknown = sorted(set(extensions) - set(logins))
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(json.dumps({"assignment": args.assignment, "deadline": iso(deadline)}) + "\n")
    repos, work, subs = out / "repos", out / "work", out / "submissions"
    for d in (work, subs):
        shutil.rmtree(d, ignore_errors=True)  # rebuilt from the clones on every run
        d.mkdir(parents=True)
    repos.mkdir(exist_ok=True)
    now = dt.datetime.now(dt.timezone.utc)
    rows: list = []
    collected: dict = {}
    seen: set = set()
    print(f"grade classroom: {args.assignment}: {len(students)} students, deadline {iso(deadline)}", file=sys.stderr)
    for s in students:
        row = dict.fromkeys(COLUMNS, "")
        row["github_username"] = s["login"]
        c = _collect(
            args,
            s,
            row,
            seen,
            extensions.get((s["login"] or "").lower(), deadline),
            (s["login"] or "").lower() in extensions,
            out,
        )
        if c is not None:
            collected[s["login"].lower()] = c
        rows.append(row)

    code = EXIT_OK
    if collected:
        failed = _grade_and_return(args, out, collected, now)
        if failed is not None:
            _write_rows(out, rows)
            return failed
    missing = [r for r in rows if not r["status"].startswith("graded") or "not returned" in r["status"]]
    _write_rows(out, rows)
    for name in unknown:
        print(f"grade classroom: the extensions name {name}, who is not in the class", file=sys.stderr)
    print(
        f"grade classroom: {len(rows) - len(missing)} of {len(rows)} students graded; "
        f"{out / 'collect.csv'} and {out / 'results' / 'summary.html'}",
        file=sys.stderr,
    )
    for r in missing:
        print(f"  {r['github_username'] or '(no GitHub account)'}: {r['status']}", file=sys.stderr)
    return EXIT_SOME if missing else code


def _collect(args, s: dict, row: dict, seen: set, mine, extended: bool, out: Path) -> dict | None:
    """One student's commit at their deadline (``mine``), cloned and put in the batch's folder;
    ``row`` says what happened.  Returns what returning their feedback needs, or None (not collected)."""
    login = s["login"]
    if not login:
        row["status"] = f"not collected: no GitHub account linked in the roster ({s['name'] or 'no name'})"
        return None
    if login.lower() in seen:
        row["status"] = "not collected: listed twice in the roster (graded once, from the first row)"
        return None
    seen.add(login.lower())
    url = s["url"] or args.url.format(org=args.org or "", assignment=args.assignment, login=login)
    if url.startswith("https://github.com/") and not url.endswith(".git") and s["url"]:
        url += ".git"
    row["repository"] = _safe_url(url)
    row["deadline"] = iso(mine) + (" (extension)" if extended else "")
    env = _git_env(url)
    clone = out / "repos" / f"{login.lower()}.git"
    try:
        update_clone(url, clone, env)
        branch = args.branch or default_branch(clone, env)
        sha, pushed, how = commit_at_deadline(clone, url, branch, mine, env)
        row["time_source"] = how
        if sha is None:
            row["status"] = f"not collected: nothing on {branch} was pushed by the deadline"
            return None
        row["commit"], row["pushed_at"] = sha, iso(pushed)
        tree = out / "work" / login.lower()
        tree.mkdir()
        notes = export(clone, sha, tree, env)
    except GitError as e:
        row["status"] = f"not collected: {e}"
        return None
    from grader.formats.workflows import pick_submission

    part, reason = pick_submission(str(tree))
    row["graded_from"] = part
    subs = out / "submissions"
    if part == "course.ipynb":
        shutil.copyfile(tree / part, subs / f"{login.lower()}.ipynb")
    else:
        shutil.copytree(tree / part, subs / login.lower(), ignore=shutil.ignore_patterns(".*"))
    row["status"] = "collected" + (f" ({'; '.join(notes)})" if notes else "")
    verb = "pushed" if how.startswith("push time") else "committed"
    print(f"  {login}: {sha[:12]} {verb} {iso(pushed)} ({how}), {reason}", file=sys.stderr)
    return dict(
        url=url, clone=clone, sha=sha, branch=branch, pushed=pushed, how=how, deadline=mine, reason=reason, row=row
    )


def _grade_and_return(args, out: Path, collected: dict, now) -> int | None:
    """`grade batch` on the collected submissions, each row's status set from its result (and the
    feedback returned, when asked); the exit status when the batch itself failed."""
    batch = [
        sys.executable,
        "-m",
        "grader.cli",
        "batch",
        str(out / "submissions"),
        "--out",
        str(out / "results"),
        "--exercises",
        *args.exercises,
    ]
    if args.jobs:
        batch += ["--jobs", str(args.jobs)]
    if args.timeout_scale:
        batch += ["--timeout-scale", str(args.timeout_scale)]
    # the token stays here: the batch (and the student code it runs) never sees it
    r = subprocess.run(batch, env={k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")})
    if r.returncode not in (0, 1):
        print(
            f"grade classroom: error: grade batch failed (exit {r.returncode}); nothing was returned to students",
            file=sys.stderr,
        )
        return EXIT_INTERNAL if r.returncode == 3 else r.returncode
    from grader.feedback.records import RowStatus

    graded = _graded(out / "results" / "results.csv")
    for login, c in collected.items():
        status = graded.get(login)  # results.csv's Status: a graded row's says "graded", then any note
        if not (status or "").startswith(RowStatus.GRADED):
            c["row"]["status"] = f"collected, not graded: {status or 'no result'}"
            continue
        c["row"]["status"] = _return_feedback(args, out, login, c, now)
    return None


def _return_feedback(args, out: Path, login: str, c: dict, now) -> str:
    """A graded student's status, with their feedback pushed when asked and the deadline has passed."""
    if not args.return_feedback:
        return "graded"
    if now < c["deadline"]:
        return "graded; feedback held until the deadline"
    try:
        text = feedback_text(out / "results" / "reports" / f"{login}.json", args.assignment, c)
        done = push_feedback(c["clone"], c["url"], c["sha"], text, _git_env(c["url"]))
        return f"graded; feedback {done}"
    except (GitError, OSError, ValueError, TypeError) as e:  # (a report that does not read: ValueError, TypeError)
        return f"graded; feedback not returned: {e}"


def _graded(results_csv: Path) -> dict:
    try:
        rows = list(csv.DictReader(io.StringIO(results_csv.read_text(encoding="utf-8"))))
    except OSError:
        return {}
    return {
        r["Student"].lower(): r.get("Status", "") for r in rows if r.get("Student") not in (None, "Points Possible")
    }


def feedback_text(report_json: Path, assignment: str, c: dict) -> str:
    from grader.feedback.records import Report
    from grader.feedback.report import render

    report = Report.from_dict(json.loads(report_json.read_text(encoding="utf-8")))  # the batch's report, read once
    head = FEEDBACK_HEAD.format(
        assignment=assignment,
        sha=c["sha"],
        branch=c["branch"],
        pushed=iso(c["pushed"]),
        how="pushed" if c["how"].startswith("push time") else "committed",
        deadline=iso(c["deadline"]),
        graded_from=c["reason"],
    )
    return head + render(report, "markdown")


def _write_rows(out: Path, rows: list) -> None:
    from grader.atomic import write_atomic

    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(sorted(rows, key=lambda r: r["github_username"].lower()))
    write_atomic(out / "collect.csv", buf.getvalue())
