"""Run the hidden suites for a submission and build the report (plain data)."""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
from pathlib import Path

from grader import __version__
from grader.exercises import EXERCISES, POINTS_PER_EXERCISE

SUITES_DIR = Path(__file__).resolve().parent / "suites"


def _score(weight_passed: float, weight_total: float) -> float:
    return POINTS_PER_EXERCISE * weight_passed / weight_total if weight_total else 0.0


def build_report(exercises, plugin, submission: Path, seed: int, cuda: bool) -> dict:
    by_ex: dict = {ex.name: [] for ex in exercises}
    for rec in plugin.records.values():
        by_ex.setdefault(rec["exercise"], []).append(rec)
    out = []
    for ex in exercises:
        recs = by_ex.get(ex.name, [])
        counted = [r for r in recs if r["status"] != "skipped"]
        total_w = sum(r["weight"] for r in counted)
        tests = []
        for r in recs:
            counts = r["status"] != "skipped"
            max_s = _score(r["weight"], total_w) if counts else 0.0
            t = {"name": r["name"], "description": r["description"], "status": r["status"],
                 "score": round(max_s if r["status"] == "passed" else 0.0, 4),
                 "max_score": round(max_s, 4), "message": r["message"], "hint": r["hint"],
                 "visible": r["visible"]}
            for extra in ("kind", "trace"):
                if extra in r:
                    t[extra] = r[extra]
            tests.append(t)
        info = plugin.exercise_info.get(ex.name, {})
        entry = {"name": ex.name, "title": ex.title, "file": ex.file,
                 "score": round(_score(sum(r["weight"] for r in counted if r["status"] == "passed"), total_w), 2),
                 "max_score": POINTS_PER_EXERCISE,
                 "status": info.get("status", "graded"),
                 "message": info.get("message", ""), "hint": info.get("hint", "") or "",
                 "tests": tests}
        errors = [e for e in plugin.collect_errors if ex.suite in e[0]]
        if errors or not recs:
            entry.update(status="error", score=0.0,
                         message="internal grader error: this exercise's tests could not be run; "
                                 "it is not your fault, please report it")
            if plugin.debug and errors:
                entry["trace"] = errors[0][1]
        out.append(entry)
    score = round(sum(e["score"] for e in out), 2)
    import torch

    return {"score": score, "max_score": POINTS_PER_EXERCISE * len(out), "exercises": out,
            "seed": seed, "submission": str(submission), "grader_version": __version__,
            "torch_version": torch.__version__, "cuda": cuda}


def grade(exercises=EXERCISES, submission: Path = Path("exercises"), *, seed: int = 0, limits=None,
          zygote=None, debug: bool = False, progress=None) -> dict:
    """Grade ``exercises`` of the submission folder; returns the report dict."""
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    from grader.sandbox import Limits, Zygote

    from grader.exercises import wants_preload

    own = zygote is None
    zygote = zygote or Zygote(preload=wants_preload(exercises))
    import pytest
    import torch

    torch.set_num_threads(1)  # small tensors: threads cost more than they give, and results stay reproducible

    from grader.plugin import GraderPlugin

    limits = limits or Limits()
    tmproot = Path(tempfile.mkdtemp(prefix="grader-run-"))
    plugin = GraderPlugin(Path(submission), zygote, limits, seed, tmproot, debug=debug, progress=progress)
    args = [str(SUITES_DIR / ex.suite) for ex in exercises]
    args += ["-c", str(SUITES_DIR / "pytest.ini"), "--rootdir", str(SUITES_DIR),
             "-p", "no:cacheprovider", "-p", "pytest_timeout", "-q", "-p", "no:warnings",
             "-p", "no:unraisableexception", "-p", "no:threadexception", "-p", "no:faulthandler"]
    if not debug:
        args += ["--tb=no"]
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            pytest.main(args, plugins=[plugin])
    finally:
        if own:
            zygote.close()
        shutil.rmtree(tmproot, ignore_errors=True)
    if debug:
        print(buf.getvalue())
    return build_report(list(exercises), plugin, Path(submission), seed, torch.cuda.is_available())
