"""`grade batch`: a class graded in parallel, isolated, resumable, with a gradebook and analytics.

The expensive runs are shared: ``class_run`` grades a small class (three
normal students and every kind of bad entry) once; the hostile test grades
the same class again with five hostile students added and compares the
normal students' reports byte for byte.  All runs use the same secret and
limits (``--timeout-scale 0.3``: 3 s per call), so their keys and seeds agree.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, ROOT, live_processes, run_cli, screenshot

SECRET = "test-course-secret"
COMMON = ["--exercises", "1", "2", "--seed-secret", SECRET, "--timeout-scale", "0.3", "--jobs", "2"]
SOLUTIONS = ROOT / "solutions"
STUBS = ROOT / "exercises"
EX1, EX2 = "exercise1_softmax.py", "exercise2_log_softmax.py"
UNSTABLE_SOFTMAX = "import torch\n\ndef softmax(x):\n    return torch.exp(x) / torch.exp(x).sum(-1, keepdim=True)\n"


def batch(*args, timeout=240, env=None):
    e = dict(os.environ, **(env or {}))
    e.pop("CI", None)
    return run_cli("batch", *args, timeout=timeout, env=e)


def write(folder: Path, files: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    return folder


def normal_class(subs: Path) -> list:
    """Three students graded normally: full marks (a folder), a buggy one (a zip)
    and an unfinished one (a single .py file with both exercises' stubs)."""
    write(subs / "ada", {EX1: (SOLUTIONS / EX1).read_text(), EX2: (SOLUTIONS / EX2).read_text()})
    with zipfile.ZipFile(subs / "ben.zip", "w") as z:  # nested folder inside the zip
        z.writestr("ben/exercises/" + EX1, UNSTABLE_SOFTMAX)
        z.writestr("ben/exercises/" + EX2, (SOLUTIONS / EX2).read_text())
    (subs / "cy.py").write_text((STUBS / EX1).read_text() + "\n" + (STUBS / EX2).read_text())
    return ["ada", "ben", "cy"]


def bad_entries(subs: Path) -> dict:
    """Every kind of entry that cannot be graded, and a word its reason must contain."""
    (subs / "empty").mkdir()
    (subs / "corrupt.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    with zipfile.ZipFile(subs / "slip.zip", "w") as z:
        z.writestr("../../" + EX1, "print('escaped')")
    with zipfile.ZipFile(subs / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(EX1, "def softmax(x):\n    return x\n")
        z.writestr("data.bin", b"\0" * (80 << 20))
    os.mkdir(os.path.join(os.fsencode(subs), b"caf\xe9"))
    write(subs / "dup", {EX1: "x = 1\n"})
    shutil.copy(subs / "corrupt.zip", subs / "notes.txt")
    with zipfile.ZipFile(subs / "dup.zip", "w") as z:
        z.writestr(EX1, "x = 1\n")
    return {
        "empty": "empty",
        "corrupt": "zip",
        "slip": "outside",
        "bomb": "bomb",
        "caf\\xe9": "UTF-8",
        "dup": "2 entries",
        "notes.txt": "not a folder",
    }


def read_csv(out: Path, name: str = "grades.csv") -> list:
    with open(out / name, newline="") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    """The normal class plus bad entries, graded once."""
    base = tmp_path_factory.mktemp("class")
    subs = base / "subs"
    subs.mkdir()
    normal = normal_class(subs)
    bad = bad_entries(subs)
    start = time.monotonic()
    r = batch(subs, "--out", base / "out", *COMMON)
    return {
        "subs": subs,
        "out": base / "out",
        "r": r,
        "normal": normal,
        "bad": bad,
        "elapsed": time.monotonic() - start,
    }


# ---------------------------------------------------------------------------
# the command line


def test_help_teaches():
    r = batch("--help")
    assert r.returncode == 0
    for text in (
        "grade batch submissions/ --out results/",
        "grades.csv",
        "summary.html",
        "reports/ID.html",
        "Points Possible",
        "--force",
        "--jobs",
        "exit status",
        "resume",
        "seed",
    ):
        assert text in r.stdout, text


@pytest.mark.parametrize(
    "args,needle",
    [
        (["/nonexistent/subs", "--out", "/tmp/x"], "does not exist"),
        (["{subs}"], "--out"),
        (["{subs}", "--out", "{out}", "--jobs", "0"], "--jobs"),
        (["{subs}", "--out", "{out}", "--exercises", "exercise42"], "no exercise called"),
        (["{subs}", "--out", "{subs}/results"], "inside SUBMISSIONS"),
    ],
)
def test_bad_command_lines_get_one_clear_line(tmp_path, args, needle):
    subs = tmp_path / "subs"
    subs.mkdir()
    r = batch(*[a.format(subs=subs, out=tmp_path / "out") for a in args], timeout=60)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


# ---------------------------------------------------------------------------
# reading entries (in-process: no grading)


def test_bad_entries_each_get_a_reason(tmp_path):
    from grader.batch.entries import scan
    from grader.exercises import lookup

    subs = tmp_path / "subs"
    subs.mkdir()
    normal = normal_class(subs)
    bad = bad_entries(subs)
    (subs / ".DS_Store").write_text("ignored")
    os.symlink("/etc/passwd", subs / "ada" / "exercise3_cross_entropy.py")  # not selected: ignored
    write(subs / "eve", {})
    os.symlink(SOLUTIONS / EX1, subs / "eve" / EX1)  # a link to someone else's file
    entries = {e.student: e for e in scan(subs, [lookup("1"), lookup("2")])}
    assert set(entries) == set(normal) | set(bad) | {"eve"}
    for student, word in bad.items():
        assert word in entries[student].error, (student, entries[student].error)
    assert "symbolic link" in entries["eve"].error
    for student in normal:
        assert not entries[student].error, entries[student].error
    assert set(entries["ben"].files) == {EX1, EX2}  # found in ben/exercises/ inside the zip
    assert entries["cy"].files[EX1] == entries["cy"].files[EX2]  # one file graded as every exercise


def test_seeds_and_keys():
    from grader.batch.keys import entry_key, fingerprint, student_seed
    from grader.exercises import lookup
    from grader.transport.limits import Limits

    exs = [lookup("1")]
    assert student_seed("s", "ada") == student_seed("s", "ada")
    assert len({student_seed("s", "ada"), student_seed("s", "ben"), student_seed("t", "ada")}) == 3
    fp = fingerprint(exs)
    k = entry_key({EX1: b"a"}, 1, exs, Limits(), fp)
    assert k == entry_key({EX1: b"a"}, 1, exs, Limits(hide=("/elsewhere",)), fp)
    assert (
        len(
            {
                k,
                entry_key({EX1: b"b"}, 1, exs, Limits(), fp),
                entry_key({EX1: b"a"}, 2, exs, Limits(), fp),
                entry_key({EX1: b"a"}, 1, exs, Limits().scaled(2), fp),
            }
        )
        == 4
    )


# ---------------------------------------------------------------------------
# a class


@pytest.mark.slow
def test_a_class_gets_grades_reports_and_a_summary(class_run):
    from grader.batch.keys import student_seed

    r, out = class_run["r"], class_run["out"]
    assert r.returncode == 1, r.stderr  # 1: some entries could not be graded
    assert "Traceback" not in r.stderr
    rows = read_csv(out, "results.csv")
    assert rows[0] == ["Student", "exercise1", "exercise2", "Total", "Status"]
    assert rows[1] == ["Points Possible", "10", "10", "20", ""]
    by = {row[0]: row for row in rows[2:]}
    assert by["ada"][1:] == ["10.00", "10.00", "20.00", "graded"]
    assert by["ben"][2] == "10.00" and float(by["ben"][1]) < 10 and by["ben"][4] == "graded"
    assert by["cy"][1:] == ["0.00", "0.00", "0.00", "graded"]
    for student in class_run["bad"]:
        assert by[student][1:4] == ["", "", ""] and by[student][4].startswith("error: "), by[student]
    for student in class_run["normal"]:
        report = json.loads((out / "reports" / f"{student}.json").read_text())
        assert report["seed"] == student_seed(SECRET, student)
        assert report["submission"] in (student + "/", student + ".zip", student + ".py")
        text = json.dumps(report)
        assert "/tmp" not in text and "/dev/shm" not in text and "grader-" not in text, "no temporary paths"
        html = (out / "reports" / f"{student}.html").read_text()
        assert f"seed {report['seed']}" in html
    summary = (out / "summary.html").read_text()
    for text in (
        "Score distribution",
        "<svg",
        "Most common misconceptions",
        "Pass rate per test",
        "Timed out or crashed",
        "Could not be graded",
        "corrupt.zip",
    ):
        assert text in summary, text
    data = json.loads((out / "summary.json").read_text())
    assert data["graded"] == 3 and data["errors"] == len(class_run["bad"])
    # cy's unfinished exercises are not attempted: no misconception; ben's overflow is one
    assert not any("NotImplementedError" in h["hint"] for h in data["hints"]), data["hints"]
    assert any(
        h["exercise"] == "exercise1" and "overflow" in h["hint"] and h["students"] == 1 for h in data["hints"]
    ), data["hints"]
    canvas = read_csv(out)  # Canvas's import format: every entry, errors without a score
    assert canvas[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "exercise1 Softmax",
        "exercise2 Log-softmax",
    ]
    assert canvas[1] == ["Points Possible", "", "", "", "", "10", "10"]
    cby = {row[0]: row for row in canvas[2:]}
    assert cby["ada"] == ["ada", "", "", "ada", "", "10.00", "10.00"]
    assert cby["corrupt"][5:] == ["", ""]
    # the last line names the entries that could not be graded; the summary links every report
    last = r.stderr.strip().splitlines()[-1]
    assert f"{len(class_run['bad'])} could not be graded: " in last and "corrupt" in last and "slip" in last, last
    for student in class_run["normal"]:
        assert f'<a href="reports/{student}.html">{student}</a>' in summary
    assert sum(b["count"] for b in data["histogram"]) == 3
    # the histogram's axis names each band's edge once; a bar's tooltip says which edge it holds
    hist = summary[summary.index('aria-label="histogram') :]
    hist = hist[: hist.index("</svg>")]
    edges = re.findall(r'<text class="edge"[^>]*>([^<]*)</text>', hist)
    assert edges == [f"{b['from']:g}" for b in data["histogram"]] + [f"{data['max_total']:g}"], edges
    assert "–" not in hist
    first, last = data["histogram"][0], data["histogram"][-1]
    assert f"with {first['from']:g} points or more and under {first['to']:g}</title>" in hist
    assert f"with {last['from']:g} points or more and {last['to']:g} points or fewer</title>" in hist


@pytest.mark.slow
def test_rerun_skips_unchanged_and_regrades_what_changed(class_run, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    shutil.copytree(class_run["subs"], subs, symlinks=True)
    shutil.copytree(class_run["out"], out)
    before = {s: (out / "reports" / f"{s}.json").read_bytes() for s in class_run["normal"]}
    r = batch(subs, "--out", out, *COMMON)
    assert "0 to grade, 3 unchanged" in r.stderr, r.stderr
    (subs / "ada" / EX1).write_text(UNSTABLE_SOFTMAX)
    r = batch(subs, "--out", out, *COMMON)
    assert "1 to grade, 2 unchanged" in r.stderr, r.stderr
    assert {row[0]: row for row in read_csv(out, "results.csv")[2:]}["ada"][1] != "10.00"
    (subs / "ada" / EX1).write_bytes((class_run["subs"] / "ada" / EX1).read_bytes())
    r = batch(subs, "--out", out, *COMMON, "--force")
    assert "3 to grade, 0 unchanged" in r.stderr, r.stderr
    for s in class_run["normal"]:  # regrading reproduces every report exactly
        assert (out / "reports" / f"{s}.json").read_bytes() == before[s], s


@pytest.mark.slow
def test_interrupted_batch_resumes(class_run, tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    subs.mkdir()
    normal_class(subs)
    for i in range(4):
        write(subs / f"extra{i}", {EX1: (SOLUTIONS / EX1).read_text()})
    env = dict(os.environ, CI="true")
    p = subprocess.Popen(
        [sys.executable, "-m", "grader.cli", "batch", str(subs), "--out", str(out), *COMMON, "--jobs", "1"],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines = []
    for line in p.stderr:  # plain progress lines (CI): stop after the first result
        lines.append(line)
        if "[1/7]" in line:
            p.send_signal(signal.SIGINT)
            break
    rest = p.stderr.read()
    assert p.wait(60) == 130, "".join(lines) + rest
    assert "resume" in rest
    done = {json.loads(p.read_text())["student"] for p in (out / ".batch" / "state").glob("*.json")}
    assert 1 <= len(done) < 7
    r = batch(subs, "--out", out, *COMMON)
    assert f"{7 - len(done)} to grade, {len(done)} unchanged" in r.stderr, r.stderr
    assert len(read_csv(out)) == 2 + 7


# ---------------------------------------------------------------------------
# hostile students

HOSTILE = {
    "h-forkbomb": """
        import ctypes, os
        ctypes.CDLL(None).prctl(15, b"hostile-{token}", 0, 0, 0)
        def softmax(x):
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
    """,
    "h-membomb": """
        def softmax(x):
            hog = []
            while True:
                hog.append(b"x" * (64 << 20))
    """,
    "h-loop": """
        def softmax(x):
            while True:
                pass
    """,
    "h-overwrite": """
        import os
        def softmax(x):
            # Safety belt for the grader's own test: act only where the root file
            # system is read-only to us, i.e. where isolation is in force.
            if not os.statvfs("/").f_flag & os.ST_RDONLY:
                raise RuntimeError("not isolated: refusing to run")
            for root in (os.getcwd(), "/tmp", "/work", "/root", "/home", "/"):
                for dirpath, dirnames, filenames in os.walk(root):
                    if dirpath.startswith(("/proc", "/sys", "/dev")):
                        dirnames[:] = []
                        continue
                    for name in filenames:
                        try:
                            with open(os.path.join(dirpath, name), "r+b") as f:
                                f.write(b"pwned")
                        except OSError:
                            pass
                    try:
                        with open(os.path.join(dirpath, "pwned-{token}"), "w") as f:
                            f.write("pwned")
                    except OSError:
                        pass
            raise RuntimeError("done")
    """,
    "h-daemon": """
        import ctypes, os, time
        import torch
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                ctypes.CDLL(None).prctl(15, b"hostile-{token}", 0, 0, 0)
                os.closerange(3, 1024)
                while True:   # outlive the worker, burn CPU, scribble wherever possible
                    for p in ("/tmp", "/root", os.path.expanduser("~")):
                        try:
                            with open(os.path.join(p, "daemon-{token}"), "w") as f:
                                f.write("still here")
                        except OSError:
                            pass
                    t = time.time()
                    while time.time() - t < 0.05:
                        pass
            os._exit(0)
        os.wait()
        def softmax(x):   # correct: the daemon must not cost its own student anything either
            e = torch.exp(x - x.max(dim=-1, keepdim=True).values)
            return e / e.sum(dim=-1, keepdim=True)
    """,
}


def _survivors(token: str) -> list:
    """Live processes whose name holds ``token`` (after up to 5 s for the kernel to kill them)."""
    return live_processes(lambda pid: token in Path(f"/proc/{pid}/comm").read_text())


@pytest.mark.slow
def test_hostile_students_change_nothing_for_the_others(class_run, tmp_path, zygote):
    """The class graded again with five hostile students added: every other
    student's JSON and HTML report is byte for byte the same, nothing they
    started is left running, and nothing outside their folders was written."""
    from grader.transport.limits import Limits
    from grader.transport.processes import Worker

    probe = Worker(zygote, Limits(), tmp_path / "probe")
    iso = probe.isolation
    probe.close()
    if iso.get("mode") != "namespaces" or not iso.get("mounts") or not iso.get("pid"):
        pytest.skip(f"full isolation is not available here ({iso}); hostile students are not run unisolated")
    token = f"{os.getpid() % 100000:05d}"
    subs, out = tmp_path / "subs", tmp_path / "out"
    shutil.copytree(class_run["subs"], subs, symlinks=True)
    for student, source in HOSTILE.items():
        write(
            subs / student, {EX1: textwrap.dedent(source).replace("{token}", token), EX2: (SOLUTIONS / EX2).read_text()}
        )
    canary = ROOT / "solutions" / EX1
    canary_bytes = canary.read_bytes()
    r = batch(subs, "--out", out, *COMMON)
    assert r.returncode == 1, r.stderr
    for student in class_run["normal"]:
        for ext in ("json", "html"):
            a = (class_run["out"] / "reports" / f"{student}.{ext}").read_bytes()
            b = (out / "reports" / f"{student}.{ext}").read_bytes()
            assert a == b, f"{student}.{ext} differs when hostile students are in the batch"
    rows = {row[0]: row for row in read_csv(out, "results.csv")[2:]}
    before = {row[0]: row for row in read_csv(class_run["out"], "results.csv")[2:]}
    for student in list(class_run["normal"]) + list(class_run["bad"]):
        assert rows[student] == before[student]
    for student in HOSTILE:
        assert rows[student][1] == "0.00", rows[student]  # the trick bought nothing
        assert rows[student][2] == "10.00", rows[student]  # and their other exercise is graded fairly
    # the daemon's softmax is correct: it loses its points to the integrity scan (os.fork, ctypes, open),
    # flagged for review, and its grading ran to the end all the same (no crash, no time-out)
    daemon = json.loads((out / "reports" / "h-daemon.json").read_text())["exercises"][0]
    assert daemon["review"] and {t.get("kind") for t in daemon["tests"] if t["status"] != "skipped"} == {"integrity"}
    assert _survivors(token) == [], "a process started by a submission outlived its worker"
    assert canary.read_bytes() == canary_bytes
    for folder in (Path("/tmp"), Path.home(), ROOT, subs, out, class_run["out"]):
        assert not list(folder.glob(f"*{token}*")), folder
    assert (subs / "ada" / EX1).read_bytes() == (class_run["subs"] / "ada" / EX1).read_bytes()
    trouble = json.loads((out / "summary.json").read_text())["trouble"]
    assert {t["student"] for t in trouble} >= {"h-forkbomb", "h-loop"}, trouble


# ---------------------------------------------------------------------------
# isolation inside one worker

PROBE = """
import json, os, socket
def softmax(x):
    r = {"uid": os.getuid(), "cwd": os.getcwd()}
    for name, path in [("reference", "{root}/reference/__init__.py"), ("solutions", "{root}/solutions/exercise1_softmax.py"),
                       ("suites", "{root}/grader/suites/test_exercise1_softmax.py"), ("home", os.path.expanduser("~/.bashrc"))]:
        try:
            open(path).read(1)
            r[name] = "read"
        except OSError as e:
            r[name] = type(e).__name__
    for name, path in [("tmp", "/tmp/w"), ("etc", "/etc/w"), ("own", "w.txt")]:
        try:
            with open(path, "w") as f:
                f.write("x")
            r["write_" + name] = "ok"
        except OSError as e:
            r["write_" + name] = type(e).__name__
    try:
        socket.create_connection(("1.1.1.1", 53), timeout=1)
        r["net"] = "connected"
    except OSError as e:
        r["net"] = type(e).__name__
    r["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    r["own_file"] = open("exercise1_softmax.py").read(6)
    raise RuntimeError("PROBE" + json.dumps(r) + "PROBE")
"""


def _probe(grade_folder, submission, limits=None) -> dict:
    folder = submission({EX1: PROBE.replace("{root}", str(ROOT))})
    report = grade_folder(folder, "exercise1", limits=limits)
    msg = next(t["message"] for t in report["exercises"][0]["tests"] if "PROBE" in t["message"])
    return json.loads(msg.split("PROBE")[1])


@pytest.mark.slow
def test_a_worker_sees_only_its_own_folder(grade_folder, submission, zygote, tmp_path):
    from grader.transport.limits import Limits
    from grader.transport.processes import Worker

    w = Worker(zygote, Limits(), tmp_path / "w")
    iso = w.isolation
    w.close()
    if iso.get("mode") != "namespaces":
        pytest.skip(f"no namespaces here: {iso}")
    r = _probe(grade_folder, submission)
    assert r["uid"] >= 100000
    for name in ("reference", "solutions", "suites", "home"):
        assert r[name] in ("FileNotFoundError", "PermissionError"), (name, r)
    assert r["write_tmp"] != "ok" and r["write_etc"] != "ok" and r["write_own"] == "ok", r
    assert r["net"] != "connected"
    assert r["own_file"].strip(), "its own file must stay readable"
    assert len(r["processes"]) <= 2, r["processes"]  # /proc shows only its own processes


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_no_namespace_init_outlives_its_worker(zygote, tmp_path):
    """Workers closed as soon as they start (as a probe is) leave nothing behind."""
    from grader.transport.limits import Limits
    from grader.transport.processes import Worker

    inits = []
    for i in range(8):
        w = Worker(zygote, Limits(), tmp_path / f"w{i}")
        inits.append(w.isolation.get("init"))
        w.close()
    if None in inits:
        pytest.skip("no PID namespace here")
    deadline = time.monotonic() + 5
    while any(map(_alive, inits)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p for p in inits if _alive(p)] == []


@pytest.mark.slow
def test_isolation_can_be_turned_off(grade_folder, submission):
    from grader.transport.limits import Limits

    r = _probe(grade_folder, submission, limits=Limits(isolate=False))
    assert r["uid"] == os.getuid() and r["solutions"] == "read"


def test_user_namespace_path_works(tmp_path):
    """The path a non-root grader takes (forced here, since tests run as root)."""
    from grader.untrusted import isolation

    work = tmp_path / "work"
    work.mkdir()
    (work / "f.py").write_text("x = 1\n")
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (child)
        try:
            os.close(rfd)
            os.setsid()
            res = isolation.isolate({"isolate": True, "workdir": str(work), "userns": True})
            checks = {}
            for name, path in (("solutions", ROOT / "solutions" / EX1), ("own", work / "f.py")):
                try:
                    open(path).read(1)
                    checks[name] = "read"
                except OSError as e:
                    checks[name] = type(e).__name__
            try:
                open(ROOT / "pwned-userns", "w").write("x")
                checks["write_repo"] = "ok"
            except OSError as e:
                checks["write_repo"] = type(e).__name__
            res["checks"] = checks
            os.write(wfd, json.dumps(res).encode())
        finally:
            os._exit(0)
    os.close(wfd)
    data = b""
    while chunk := os.read(rfd, 65536):
        data += chunk
    os.waitpid(pid, 0)
    res = json.loads(data)
    assert res["mode"] == "user-namespace" and res["mounts"] and res["net"], res
    assert res["checks"] == {"solutions": "FileNotFoundError", "own": "read", "write_repo": res["checks"]["write_repo"]}
    assert res["checks"]["write_repo"] != "ok" and not (ROOT / "pwned-userns").exists()


# ---------------------------------------------------------------------------
# the summary, as a browser shows it


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_summary_renders_in_a_browser(class_run, tmp_path):
    png = screenshot(class_run["out"] / "summary.html", tmp_path / "summary.png", tmp_path / "profile")
    assert png.exists() and png.stat().st_size > 20_000
    shutil.copy(png, class_run["out"] / "summary.png")


@pytest.mark.slow
def test_a_submission_that_overruns_the_wall_limit_is_stopped(tmp_path):
    """The whole-submission limit: the grading process is killed with its zygote
    and workers, the student gets an error row, and the rest is graded."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    write(
        subs / "slow",
        {EX1: "import ctypes\nctypes.CDLL(None).prctl(15, b'wall-limit-hog', 0, 0, 0)\nwhile True:\n    pass\n"},
    )
    write(subs / "fine", {EX1: (SOLUTIONS / EX1).read_text()})
    r = batch(
        subs, "--out", out, "--exercises", "1", "--seed-secret", SECRET, "--submission-timeout", "2", "--jobs", "2"
    )
    assert r.returncode == 1, r.stderr
    rows = {row[0]: row for row in read_csv(out, "results.csv")[2:]}
    assert rows["fine"][1:] == ["10.00", "10.00", "graded"]
    assert "whole-submission limit (2 s)" in rows["slow"][3], rows["slow"]
    assert _survivors("wall-limit-hog") == []


def test_progress_is_a_bar_on_a_terminal_and_lines_in_ci(monkeypatch):
    import io

    from grader.batch.progress import Progress
    from grader.feedback.records import GradeRow, RowStatus

    class Tty(io.StringIO):
        def isatty(self):
            return True

    row = GradeRow.from_dict({"student": "ada", "status": "graded", "score": 20.0, "max_score": 20.0, "elapsed": 1.5})
    monkeypatch.delenv("CI", raising=False)
    tty = Tty()
    p = Progress(2, tty)
    p.update(row)
    p.update(dataclasses.replace(row, student="ben", status=RowStatus.ERROR, reason="corrupt zip"))
    assert "█" in tty.getvalue() and "ETA" in tty.getvalue() and "2/2" in tty.getvalue()
    monkeypatch.setenv("CI", "true")
    plain = Tty()
    p = Progress(2, plain)
    p.update(row)
    p.update(dataclasses.replace(row, student="ben", status=RowStatus.ERROR, reason="corrupt zip"))
    lines = plain.getvalue().splitlines()
    assert lines == ["grade batch: [1/2] ada: 20.00 / 20 (1.5 s)", "grade batch: [2/2] ben: error: corrupt zip (1.5 s)"]


def test_follow_up_hints_are_not_misconceptions():
    """'fix what the other tests report first' (the device test with wrong values, a gradient
    test of a wrong forward) points at another failure: the summary counts that one only."""
    from grader.batch.analytics import _misconception
    from grader.errors import ErrorKind
    from grader.feedback.records import ExerciseResult, ExerciseStatus, TestResult, TestStatus
    from grader.verdicts.hints import DEVICE_VALUES_FIRST, FORWARD_FIRST

    ex = ExerciseResult(
        name="exercise1",
        title="",
        file="",
        score=0.0,
        max_score=10.0,
        status=ExerciseStatus.GRADED,
        message="",
        hint="",
    )

    def failed(hint, message, kind=None):
        return TestResult(
            name="test_x",
            description="",
            status=TestStatus.FAILED,
            score=0.0,
            max_score=1.0,
            message=message,
            hint=hint,
            visible=False,
            kind=kind,
        )

    for hint in (DEVICE_VALUES_FIRST, FORWARD_FIRST):
        assert not _misconception(ex, failed(hint, "does not match"))
    assert _misconception(ex, failed("Subtract the row's max before exp: exp(1000) overflows.", "does not match"))
    assert not _misconception(ex, failed("Replace the raise", "not implemented yet", ErrorKind.NOT_IMPLEMENTED))


def test_the_jobs_line_counts_right():
    from grader.batch.command import _jobs_text

    assert _jobs_text(2, 500) == "2 jobs"
    assert _jobs_text(2, 1) == "1 job"
    assert _jobs_text(2, 0) == "no grading needed"
