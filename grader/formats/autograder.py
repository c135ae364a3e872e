"""``grade autograder``: a Gradescope autograder bundle, and the program its
``run_autograder`` runs inside Gradescope's container.

The bundle (a zip, files at its root, as Gradescope's specs require):
  setup.sh          installs Python, CPU-only torch and this course (from
                    $AUTOGRADER_ROOT/source, default /autograder/source)
  run_autograder    grades $AUTOGRADER_ROOT/submission (default /autograder) and
                    always writes $AUTOGRADER_ROOT/results/results.json
  grader/, reference/, pyproject.toml, README.md   the course (hidden suites included)
  nngrade-autograder.json   the options chosen when the bundle was built

The submission may be exercise files, one .py holding every exercise, a
notebook, a zip of any of these, in nested folders: it is read by
``grader.submission.reader`` as for every other entry point (only regular files inside
the submission; a link is refused, costing that exercise its points with the
reason).  Whatever happens (an empty submission, a crash of the grader) a valid
results.json is written.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path

from grader import settings
from grader.install import pyproject_template

PROJECT = Path(__file__).resolve().parents[2]
CONFIG = "nngrade-autograder.json"

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu 22.04,
# whose python3 is 3.10).  It installs Python, CPU-only torch (Gradescope has no GPU) and
# this course from /autograder/source.
#
# Resources: Gradescope's default container has 768 MB of memory and half a CPU.
# Measured for this course (run_autograder on the model answer, every exercise):
#   {measured}
# So the defaults do ("Killed" in the autograder output, or a results.json saying the
# grading failed, means too little memory: raise Memory in the Autograder Settings).
#
# To try it elsewhere: AUTOGRADER_ROOT moves /autograder (as for run_autograder); apt-get
# runs only where python3, its pip or its venv is missing; NNGRADE_TORCH_INDEX names
# another index to take torch from (set and empty: pip's own configured index).
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
if ! python3 -c "import ensurepip, venv" >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q python3 python3-pip python3-venv
fi
python3 -m pip install --upgrade pip
# CPU-only torch first (Gradescope has no GPU; the default wheel would bring several GB of CUDA),
# then the course, which brings numpy (torch warns at import without it)
TORCH_INDEX="${{NNGRADE_TORCH_INDEX-https://download.pytorch.org/whl/cpu}}"
python3 -m pip install ${{TORCH_INDEX:+--index-url "$TORCH_INDEX"}} torch torchvision
python3 -m pip install numpy "$ROOT/source"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Grades $AUTOGRADER_ROOT/submission (default /autograder/submission) and writes
# $AUTOGRADER_ROOT/results/results.json, also when grading fails.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
RESULTS="$ROOT/results/results.json"
mkdir -p "$ROOT/results"
export PYTHONPATH="$ROOT/source${PYTHONPATH:+:$PYTHONPATH}"
cd "$ROOT"
PYTHON="$(command -v python3 || command -v python)"
"$PYTHON" -m grader.formats.autograder run --root "$ROOT" --config "$ROOT/source/nngrade-autograder.json"
status=$?
if [ ! -s "$RESULTS" ]; then
  case "$status" in
    137) why="it was killed (SIGKILL), most often for lack of memory: raise Memory in the Autograder Settings" ;;
    *) why="exit status $status" ;;
  esac
  printf '%s\\n' '{"score": 0.0, "output": "The grading failed, so this is not a grade: the autograder could not run ('"$why"'). This is not your fault, please tell your instructor.", "output_format": "text", "tests": [], "stdout_visibility": "hidden", "extra_data": {"grader_failed": true, "exit_status": '"$status"'}}' > "$RESULTS"
fi
exit 0
"""

COURSE_FILES = ("README.md",)
COURSE_DIRS = ("grader", "reference")

# setup.sh installs the bundle's source: from a regular install (no pyproject.toml in site-packages)
# the bundle gets this one, written from the installed distribution's metadata; its tables are the
# checkout's own (tests/formats/test_autograder_install.py holds them to pyproject.toml)
INSTALLED_PYPROJECT = pyproject_template(
    "nngrade",
    ["grader*", "reference*"],
    ["course.toml", "feedback/templates/*", "suites/*.py", "suites/*.ini", "verdicts/*.toml"],
)


def project_file() -> bytes:
    """The bundle's pyproject.toml: the checkout's, or one written from the installed metadata."""
    from grader.install import project_metadata

    checkout = PROJECT / "pyproject.toml"
    if checkout.is_file():
        return checkout.read_bytes()
    meta = project_metadata()
    deps = json.dumps(meta["dependencies"])
    return INSTALLED_PYPROJECT.format(
        version=meta["version"], requires_python=meta["requires-python"], deps=deps
    ).encode()


def _add(z: zipfile.ZipFile, name: str, data: bytes, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = ((0o100755 if executable else 0o100644) & 0xFFFF) << 16
    z.writestr(info, data)


def build(
    out: Path,
    *,
    exercises=("all",),
    hidden_visibility: str = "after_published",
    seed: int = 0,
    timeout_scale: float = 1.0,
    measured: str = "",
    hint_level: str = "fix",
) -> list:
    """Write the bundle to ``out``; returns the names in it.  Byte for byte the
    same for the same course and options (fixed dates, sorted names)."""
    from grader.atomic import replacing
    from grader.course import current
    from grader.exercises import select
    from grader.formats.gradescope import VISIBILITIES

    course = current()
    chosen = select(list(exercises))
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"--hidden-visibility must be one of {', '.join(VISIBILITIES)}")
    config = {
        "exercises": [ex.name for ex in chosen],
        "hidden_visibility": hidden_visibility,
        "seed": seed,
        "timeout_scale": timeout_scale,
    }
    if hint_level != "fix":  # the default leaves the config as it always was
        config["hint_level"] = hint_level
    if not course.builtin:  # a course folder (grade autograder --course DIR) travels in course/
        config["course"] = "course"
    measured = measured or MEASURED
    names = []
    with replacing(out) as tmp, zipfile.ZipFile(tmp, "w") as z:
        _add(z, "setup.sh", SETUP_SH.format(measured=measured).encode(), executable=True)
        _add(z, "run_autograder", RUN_AUTOGRADER.encode(), executable=True)
        _add(z, CONFIG, (json.dumps(config, indent=1) + "\n").encode())
        _add(z, "pyproject.toml", project_file())
        names += ["setup.sh", "run_autograder", CONFIG, "pyproject.toml"]
        for name in COURSE_FILES:
            p = PROJECT / name
            if p.is_file():
                _add(z, name, p.read_bytes())
                names.append(name)
        for d in COURSE_DIRS:
            names += _add_tree(z, PROJECT / d, f"{d}/")
        if not course.builtin:
            names += _add_tree(z, course.root, "course/")
    return names


def _add_tree(z: zipfile.ZipFile, root: Path, prefix: str) -> list:
    """Every file under ``root`` (no caches), as ``prefix`` + its path below ``root``; their names."""
    names = []
    for p in sorted(root.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith((".pyc", ".tmp")):
            rel = prefix + p.relative_to(root).as_posix()
            _add(z, rel, p.read_bytes())
            names.append(rel)
    return names


# Measured (bench/gradescope_memory.py, 2026-12-07): run_autograder on the model answers, all nine
# exercises, inside a cgroup v1 memory group, pinned to one CPU, with the CPU-only torch 2.13 wheel.
MEASURED = (
    "peak memory about 480 MiB (proportional set size summed over the grader, the warm worker\n"
    "#   and the student's worker; 426 MiB charged to the memory cgroup).  Graded right at 768, 512\n"
    "#   and 448 MiB; at 384 MiB processes are killed and results.json says the grading failed.\n"
    "#   The default 768 MB is enough; half a CPU is enough (time limits are doubled for it)."
)


# ---------------------------------------------------------------------------
# inside the container


def target(folder: Path) -> Path:
    """What to read in Gradescope's submission folder: the folder when it holds an
    exercise file, else the one .zip uploaded, else the one notebook or .py (holding
    every exercise) beside other files, else the folder.  Raises ``BadEntry`` when it is empty.
    Reading it is ``grader.submission.reader.read``'s, as for every entry point."""
    from grader.exercises import EXERCISES
    from grader.submission.errors import BadEntry

    files = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        files += [Path(dirpath, n) for n in sorted(filenames) if not n.startswith(".")]
    if not files:
        raise BadEntry(
            "the submission is empty: upload your exercise files (exerciseN_*.py), a zip of them or your notebook"
        )
    if any(f.name in {ex.file for ex in EXERCISES} for f in files):
        return folder
    for kinds in ((".zip",), (".zip", ".py", ".ipynb")):  # the one zip, else the one file of a kind read alone
        alone = [f for f in files if f.suffix.lower() in kinds]
        if len(alone) == 1:
            return alone[0]
    return folder


def run(root: Path, config: dict) -> dict:
    """Grade ``root``/submission; return the results.json document (never raises)."""
    from grader.feedback import failure
    from grader.formats import gradescope as gs

    started = time.monotonic()
    vis = config.get("hidden_visibility", "after_published")
    try:
        from grader.course import use
        from grader.exercises import select, total_points
        from grader.submission.errors import BadEntry
        from grader.submission.reader import annotate, materialize, read

        if config.get("course"):
            use(root / "source" / config["course"])
        exercises = select(config.get("exercises") or ["all"])
        max_score = total_points(exercises)
        try:
            # one reader for every entry point: only regular files inside the submission;
            # a bad exercise file (a link, say) costs that exercise only, with the reason
            sub = read(target(root / "submission"), exercises, strict=False)
        except BadEntry as e:
            return gs.failure_results(
                f"Nothing could be graded: {e}.", max_score, time.monotonic() - started, grader_failed=False
            )
        if not sub.files and not sub.refused:
            wanted = ", ".join(sorted(ex.file for ex in exercises)[:3])
            return gs.failure_results(
                f"Nothing could be graded: no exercise file ({wanted}, …) was found in the submission.",
                max_score,
                time.monotonic() - started,
                grader_failed=False,
            )
        from grader.feedback.records import Report
        from grader.harness.run import grade
        from grader.transport.limits import Limits

        work = Path(tempfile.mkdtemp(prefix="nngrade-"))
        try:
            folder = materialize(sub, work / "submission")
            hide = tuple(str(p) for p in (root / "results", root / "source", root / "submission") if p.exists())
            limits = Limits(hide=hide).scaled(float(config.get("timeout_scale", 1.0)))
            from grader.hint_levels import use_level

            use_level(config.get("hint_level", "fix") if config.get("hint_level") in ("fix", "concept") else "fix")
            report = grade(exercises, folder, seed=int(config.get("seed", 0)), limits=limits)
            # the reader's notes edit the report's JSON data (the readers sit below the records)
            report = Report.from_dict(annotate(report.to_dict(), sub, shown="submission", folder=str(folder)))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        reason = failure.grading_failed(report)
        if reason is not None:  # the zygote was killed, a test could not run: not a grade
            print(f"nngrade: the grading failed: {reason}")
            return gs.failure_results(failure.message(reason), max_score, time.monotonic() - started)
        return gs.results(report, hidden_visibility=vis, execution_time=time.monotonic() - started)
    except BaseException as e:  # the grader's own failure: still a valid results file
        traceback.print_exc()  # to /autograder/results/stdout, which only instructors see
        return gs.failure_results(
            failure.message(f"the autograder failed ({type(e).__name__}); {failure.memory_limit()}"),
            0.0,
            time.monotonic() - started,
        )


def _write(path: Path, doc: dict) -> None:
    from grader.atomic import write_atomic

    write_atomic(path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m grader.formats.autograder")
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="grade ROOT/submission into ROOT/results/results.json")
    r.add_argument("--root", type=Path, default=Path(settings.AUTOGRADER_ROOT.value()))
    r.add_argument("--config", type=Path, default=None)
    args = p.parse_args(argv)
    results = args.root / "results" / "results.json"
    config = {}
    if args.config and args.config.is_file():
        try:
            config = json.loads(args.config.read_text())
        except ValueError:
            config = {}
    doc = run(args.root, config)
    _write(results, doc)
    print(f"nngrade: score {doc.get('score')}; results in {results}")
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)
