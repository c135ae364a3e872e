"""The course's exercises, in course order: the one place the grader asks for them.

They are declared in the course's ``course.toml`` (``grader.course``: the built-in course, or
the one ``--course``/``GRADER_COURSE`` names); ``EXERCISES`` is read from the course in use
each time it is asked for.  Each exercise has its own points (``Exercise.points``).
"""

from __future__ import annotations

import re

from grader.course import Exercise, current


def __getattr__(name: str):
    if name == "EXERCISES":
        return current().exercises
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def total_points(exercises) -> float:
    """What these exercises are worth together (whole hundredths each, so the sum is exact)."""
    return round(sum(ex.points for ex in exercises), 2)


def wants_preload(exercises) -> bool:
    """Whether the worker should preload torch.optim's imports for these exercises."""
    return any(ex.preload for ex in exercises)


def lookup(text: str) -> Exercise:
    """'exercise3', '3', 'ex3', 'cross_entropy' or the file name → the Exercise."""
    exercises = current().exercises
    t = text.strip().lower().removesuffix(".py")
    m = re.fullmatch(r"(?:exercise|ex)?_?(\d+)(?:_\w+)?", t)
    for ex in exercises:
        if (m and int(m.group(1)) == ex.number) or t in (ex.topic, ex.topic.replace("_", "-")):
            return ex
    choices = ", ".join(e.name for e in exercises)
    raise KeyError(f"no exercise called {text!r}; choose one of: {choices}, or 'all'")


def select(names) -> list:
    """Command-line exercise names (or 'all') → Exercises in course order; KeyError names a bad one."""
    if any(n.lower() == "all" for n in names):
        return list(current().exercises)
    return sorted({lookup(n) for n in names}, key=lambda e: e.number)


def for_suite(module_file: str) -> Exercise:
    m = re.search(r"test_exercise(\d+)_", module_file)
    exercises = current().exercises
    if not m or not 1 <= int(m.group(1)) <= len(exercises):
        raise KeyError(module_file)
    return exercises[int(m.group(1)) - 1]


def exercises_help() -> str:
    """The exercises a command can be given, as its help says: those of the course in use."""
    names = [ex.name for ex in current().exercises]
    if len(names) == 1:
        return f"{names[0]} (or just 1), or 'all'"
    return f"{names[0]} … {names[-1]} (or just 1 … {len(names)}), or 'all'"


def add_exercises_option(parser, help: str | None = None) -> None:
    """The ``--exercises``/``-e`` option of the commands that grade several exercises."""
    help = help or exercises_help() + " (default)"
    parser.add_argument("--exercises", "-e", nargs="+", default=["all"], metavar="EXERCISE", help=help)
