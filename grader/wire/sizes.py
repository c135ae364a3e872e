"""How much student-controlled text crosses the boundary: every string from the worker
is cut to ``MAX_TEXT`` characters (a name to ``MAX_NAME``), every field of a report to
``MAX_FIELD``, saying how much was cut.  A leaf: the wire (both sides) and the feedback
import it."""

import re
from typing import Any

MAX_TEXT = 2000  # characters of one string from the worker (a name, a message, a repr, a code line)
MAX_NAME = 200  # characters of a name or type from the worker (an exception's class, say)
MAX_FIELD = 20000  # characters of one field of a report (a message built from several strings, say)


_CUT = re.compile(r"… \[(\d+) more characters cut\]\Z")


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut (counting what
    an earlier clip cut too)."""
    if len(text) <= limit:
        return text
    more = len(text) - limit
    m = _CUT.search(text)
    if m and m.start() >= limit:
        more = m.start() - limit + int(m.group(1))
    return f"{text[:limit]}… [{more} more characters cut]"


def clip_report(value: Any, limit: int = MAX_FIELD) -> Any:
    """A report (nested dicts and lists) with every string clipped to ``limit``.
    Returns the same object when nothing needed cutting."""
    if type(value) is str:
        return clip(value, limit)
    if type(value) is dict:
        fields = {k: clip_report(v, limit) for k, v in value.items()}
        return value if all(fields[k] is value[k] for k in value) else fields
    if type(value) is list:
        items = [clip_report(v, limit) for v in value]
        return value if all(a is b for a, b in zip(items, value)) else items
    return value
