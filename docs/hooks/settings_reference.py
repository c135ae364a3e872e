"""MkDocs hook: the settings reference is generated from the declarations (``grader.settings``).

A page that holds ``<!-- grader-settings AUDIENCE -->`` (everyone, instructors, internal) gets, in
its place, the table of those settings: each variable, its default and what it does, as
`grade config --help` says it.
"""

from __future__ import annotations

import re

MARK = re.compile(r"<!-- grader-settings (\w+) -->")


def render(markdown: str) -> str:
    from grader import settings

    def table(m: re.Match) -> str:
        if m.group(1) not in settings.AUDIENCES:
            raise ValueError(f"no audience {m.group(1)!r} in grader.settings (one of {', '.join(settings.AUDIENCES)})")
        return settings.table(m.group(1))

    return MARK.sub(table, markdown)


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ARG001 (MkDocs' hook signature)
    return render(markdown)
