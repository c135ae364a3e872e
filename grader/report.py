"""Render a report (the plain dict that ``grader.run`` builds) as text,
Markdown, HTML (Jinja2 templates) or JSON."""
from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path

FORMATS = ("text", "json", "html", "markdown")
EXTENSIONS = {".json": "json", ".html": "html", ".htm": "html", ".md": "markdown", ".txt": "text", ".xml": "junit"}
TEMPLATES = {"text": "report.txt.j2", "html": "report.html.j2", "markdown": "report.md.j2"}

ANSI = {"bold": "\033[1m", "dim": "\033[2m", "red": "\033[31m", "green": "\033[32m",
        "yellow": "\033[33m", "cyan": "\033[36m", "reset": "\033[0m"}


def _counts(tests) -> dict:
    c = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for t in tests:
        c[t["status"]] = c.get(t["status"], 0) + 1
    return c


def failure_groups(tests) -> list:
    """Failed tests merged by cause: the same hint (or, without one, the same
    message) is one entry showing the first test's message as the example and
    naming the others. A stub or a single bug fails many tests the same way."""
    groups: dict = {}
    for t in tests:
        if t["status"] not in ("failed", "error"):
            continue
        message = t["message"]
        reproducer = t.get("reproducer", "") if t.get("visible") else ""  # never for a hidden test
        key = ("hint", t["hint"]) if t["hint"] else ("message", message)
        g = groups.setdefault(key, {"message": message, "hint": t["hint"], "tests": [], "reproducer": "",
                                    "trace": t.get("trace", ""), "score": 0.0, "max_score": 0.0})
        if reproducer and not g["reproducer"]:  # the example is a test the student can run
            g.update(message=message, reproducer=reproducer)
        g["tests"].append(t)
        g["score"] += t["score"]
        g["max_score"] += t["max_score"]
    for g in groups.values():
        first = g["tests"][0]
        g["title"] = first["description"] or first["name"]
        if len(g["tests"]) > 1:
            more = len(g["tests"]) - 1
            g["title"] += f" (and {more} more test{'s' if more > 1 else ''} with the same cause)"
        g["names"] = ", ".join(t["name"] for t in g["tests"])
    return list(groups.values())


@functools.lru_cache(maxsize=None)
def _env(autoescape: bool):
    """One environment per escaping mode: it keeps its compiled templates (a batch
    renders one report per student; compiling the HTML template each time took 40 ms)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=autoescape, trim_blocks=False, lstrip_blocks=False, keep_trailing_newline=True)
    env.filters["groupby_status"] = _counts
    env.filters["failure_groups"] = failure_groups
    env.filters["pad"] = lambda s, n: str(s).ljust(n)
    env.globals["pct"] = lambda s, m: round(100.0 * s / m, 1) if m else 0.0
    env.globals["bar_color"] = lambda s, m: "#1a7f37" if m and s >= m else ("#cf222e" if s == 0 else "#bf8700")
    env.globals["score_color"] = lambda s, m: "green" if m and s >= m else ("red" if s == 0 else "yellow")
    return env


def render(report: dict, fmt: str = "text", color: bool = False) -> str:
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if fmt not in TEMPLATES:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    env = _env(autoescape=(fmt == "html"))
    template = env.get_template(TEMPLATES[fmt])
    skipped_gpu = any(t["status"] == "skipped" for ex in report["exercises"] for t in ex["tests"])
    return template.render(report=report, ansi=ANSI if color else None, skipped_gpu=skipped_gpu)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
