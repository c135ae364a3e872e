"""The hints' level a command grades at: the concept only, or the concept and the fix.

An instructor chooses per course (GRADER_HINT_LEVEL, or --hint-level on grade, grade batch, grade
autograder and grade release) whether a hint names the concept only ("concept") or also shows the fix
("fix", the default).  Choosing it is no verdict: this module sits beside the packages (standard
library only), so that ``grade`` chooses the level before it forks its zygote without loading a module
of a secret package (``grader.untrusted.boundary.SECRET_PACKAGES``), which would refuse the fork.
The wording at each level is ``grader.verdicts.hints``'s.
"""

from __future__ import annotations

from grader import settings

LEVELS = settings.HINT_LEVEL.choices
DEFAULT_LEVEL = "fix"


def level_error(value) -> str | None:
    """What is wrong with a hint level as a user gave it, or None."""
    if value in LEVELS:
        return None
    return (
        f"the hint level must be one of {', '.join(LEVELS)}, not {value!r} ({settings.HINT_LEVEL.name} or --hint-level)"
    )


def edition_level() -> str:
    """The course's default: the level `grade release --hint-level` wrote into the student edition, else
    the course's hint_level (course.toml), else "fix"."""
    from grader import edition
    from grader.course import current

    value = getattr(edition, "HINT_LEVEL", None) or current().hint_level or DEFAULT_LEVEL
    return value if value in LEVELS else DEFAULT_LEVEL


def chosen_level(option: str | None) -> str:
    """The level a command grades at: its --hint-level, else GRADER_HINT_LEVEL, else the course's default.
    Raises ValueError (with level_error's words) for a value that is not a level."""
    reading = settings.HINT_LEVEL.read(option_value=option)
    value = str(reading.raw.strip().lower() if reading.problem and reading.raw else reading.value or edition_level())
    error = level_error(value)
    if error:
        raise ValueError(error)
    return value


def use_level(level: str) -> None:
    """Grade at ``level`` in this process and the processes it starts (GRADER_HINT_LEVEL)."""
    settings.export(settings.HINT_LEVEL, level)


def current_level() -> str:
    """The hint level this process grades at: GRADER_HINT_LEVEL, else the course's default (an unknown
    value was refused by the command line; here it falls back to the default)."""
    return str(settings.HINT_LEVEL.value() or edition_level())


LEVEL_HELP = "hints name the concept only, or also show the fix (default: $GRADER_HINT_LEVEL, else fix)"


def add_hint_level_option(parser, help: str = LEVEL_HELP) -> None:
    """The ``--hint-level`` option of the commands that grade or build for a course (its choices: ``LEVELS``)."""
    parser.add_argument("--hint-level", choices=LEVELS, default=None, help=help)
