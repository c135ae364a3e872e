"""``grade config``: each setting (an environment variable ``grader.settings`` declares), the value
this grader would use, and where it came from.

Standard library only, and nothing run: it reads this process's environment as ``grade`` would.
A value the grader cannot use is said, with what the grader does instead; it is never an error.
"""

from __future__ import annotations

import argparse
import json
import sys

from grader import settings
from grader.exits import EXIT_FULL

DESCRIPTION = """\
Show each setting of the grader (an environment variable), the value grade would
use here and where it came from: the default, or the environment.  A value the
grader cannot use is said, with what it does instead.  A command-line option
(such as --hint-level) wins over its variable for that call.
"""

EPILOG = """\
settings:
{settings}

examples:
  grade config                            every setting, its value and where it came from
  GRADER_HINT_LEVEL=concept grade config  what a variable would change
  grade config --format json              the same as data

exit status:
  0  always (a value the grader cannot use is reported, not an error)
"""


def _listing(chosen) -> str:
    import textwrap

    width = max(len(s.name) for s in chosen) + 2
    lines = []
    for s in chosen:
        wins = f" ({s.option} wins)" if s.option else ""
        text = f"{_plain(s.help)}{wins}; default: {_plain(s.default_text)}"
        wrapped = textwrap.wrap(text, 96 - width)
        lines.append(f"  {s.name:<{width}}{wrapped[0]}")
        lines += [" " * (width + 2) + more for more in wrapped[1:]]
    return "\n".join(lines)


def _plain(text: str) -> str:
    return text.replace("`", "")


def _parser(chosen) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="grade config",
        description=DESCRIPTION,
        epilog=EPILOG.format(settings=_listing(chosen)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--format",
        "-f",
        choices=("text", "json"),
        default="text",
        help="text (default) or json: each setting's name, value, source, default and what it does",
    )
    return p


def _edition() -> str:
    from grader.edition import EDITION

    return EDITION


def as_data(chosen, environ=None) -> dict:
    """The settings as ``grade config --format json`` writes them (a secret's value never)."""
    rows = []
    for s in chosen:
        r = s.read(environ)
        secret = s.type == settings.SECRET
        rows.append(
            {
                "name": s.name,
                "value": None if secret else r.value,
                "shown": _plain(r.shown),
                "source": r.source,
                "set": r.raw is not None,
                "problem": r.problem,
                "type": s.type,
                "default": _plain(s.default_text),
                "option": s.option,
                "audience": s.audience,
                "editions": s.editions,
                "help": _plain(s.help),
            }
        )
    return {"edition": _edition(), "settings": rows}


def as_text(chosen, environ=None) -> str:
    """The settings as ``grade config`` prints them: for each audience, each variable, where its
    value came from (the default, the environment) and the value."""
    readings = {s.name: s.read(environ) for s in chosen}
    name_w = max(len(s.name) for s in chosen) + 2
    sources = {name: r.source.removesuffix(f" {name}") for name, r in readings.items()}  # the name is on the line
    from_w = max(len(f) for f in sources.values()) + 2
    out = []
    for audience, heading in settings.AUDIENCES.items():
        group = [s for s in chosen if s.audience == audience]
        if not group:
            continue
        out += ["" if out else None, f"{heading}:"]
        for s in group:
            r = readings[s.name]
            out.append(f"  {s.name:<{name_w}}{sources[s.name]:<{from_w}}{_plain(r.shown)}".rstrip())
            if r.problem:
                out.append(f"    bad value: {r.problem}")
    out.append("")
    out.append("What each does: grade config --help.")
    return "\n".join(line for line in out if line is not None) + "\n"


def main(argv) -> int:
    chosen = settings.for_edition(_edition())
    args = _parser(chosen).parse_args(argv)
    if args.format == "json":
        sys.stdout.write(json.dumps(as_data(chosen), indent=1, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(as_text(chosen))
    return EXIT_FULL
