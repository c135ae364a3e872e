"""Every setting the grader reads from the environment, declared once: its variable, its
type, its default, what it does, and whom it concerns.

Code reads a setting through its declaration (``HINT_LEVEL.read().value``), never through
``os.environ`` by name, so that `grade config` and the settings page (docs/reference/settings.md,
generated from ``SETTINGS``) say what the code does.  A reading is taken when asked, never
cached: the warm server grades each request under that request's environment.

A leaf (the standard library only, nothing else of the grader): the worker side reads the
zygote's own settings through it too, and `grade` imports it at start-up.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping

# whom a setting concerns
EVERYONE, INSTRUCTORS, INTERNAL = "everyone", "instructors", "internal"
AUDIENCES = {
    EVERYONE: "For everyone",
    INSTRUCTORS: "For instructors",
    INTERNAL: "Set by the grader for its own processes",
}
# which editions read it: both, or the instructor's alone (its batch, its Gradescope bundle)
BOTH, INSTRUCTOR = "both", "instructor"

# the types of value
FLAG, SECONDS, CHOICE, PATH, TEXT, SECRET = "flag", "seconds", "choice", "path", "text", "secret"


@dataclasses.dataclass(frozen=True)
class Reading:
    """A setting's value as this process reads it, and where it came from."""

    name: str
    value: object  # what the grader uses (the default's value where the variable is unset or bad)
    source: str  # "default", "environment NAME", or the command-line option that gave it
    raw: str | None  # the variable's text, as set (None: unset)
    problem: str | None = None  # a value the grader cannot use: what is wrong, and what it does instead
    shown: str = ""  # the value as `grade config` prints it (a secret's never is)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One environment variable the grader reads."""

    name: str
    type: str
    default: object  # the value where the variable is unset (None: the default is worked out, see ``default_text``)
    default_text: str  # the default as a user reads it
    help: str
    audience: str = EVERYONE
    editions: str = BOTH
    option: str | None = None  # the command-line option that wins over it
    choices: tuple = ()
    off: tuple = ("", "0")  # a flag's values that mean off
    minimum: float | None = None  # seconds: smaller values are raised to it
    empty: str | None = None  # what set-but-empty means, where it is not the same as unset

    def read(self, environ: Mapping[str, str] | None = None, option_value: object = None) -> Reading:
        """The setting's value in ``environ`` (default: this process's environment); an
        ``option_value`` (its command-line option's, where one was given) wins."""
        if option_value is not None:
            return Reading(self.name, option_value, self.option or "command line", None, None, str(option_value))
        env = os.environ if environ is None else environ
        raw = env.get(self.name)
        if raw is None or (raw == "" and self.empty is None):
            return Reading(self.name, self.default, "default", raw, None, self._show(self.default, default=True))
        value, problem = self._parse(raw)
        source = f"environment {self.name}"
        if problem is not None:
            return Reading(self.name, self.default, source, raw, problem, self._show(self.default, default=True))
        return Reading(self.name, value, source, raw, None, self._show(value))

    def value(self, environ: Mapping[str, str] | None = None):
        """The value the grader uses (the default where the variable is unset or bad)."""
        return self.read(environ).value

    def _parse(self, raw: str) -> tuple:
        """(value, None), or (None, what is wrong with ``raw`` and what the grader does instead)."""
        if self.type == FLAG:
            return raw.strip().lower() not in self.off, None
        if self.type == SECONDS:
            try:
                seconds = float(raw)
            except ValueError:
                seconds = math.nan
            if math.isnan(seconds):
                return None, f"{raw!r} is not a number of seconds: the default, {self.default_text}, is used"
            return (seconds if self.minimum is None else max(self.minimum, seconds)), None
        if self.type == CHOICE:
            value = raw.strip().lower()
            if value in self.choices:
                return value, None
            if not value:
                return self.default, None
            return None, (
                f"{raw!r} is not one of {', '.join(self.choices)}: "
                + (
                    f"grade refuses it (exit 2) unless {self.option} is given"
                    if self.option
                    else f"the default, {self.default_text}, is used"
                )
            )
        return raw, None

    def _show(self, value: object, default: bool = False) -> str:
        if self.type == SECRET and not default:
            return "(set; not shown)"
        if default:
            return self.default_text
        if self.type == FLAG:
            return "on" if value else "off"
        if self.type == SECONDS and isinstance(value, float) and value.is_integer():
            return str(int(value))
        if value == "" and self.empty is not None:
            return f"(empty: {self.empty})"
        return str(value)


NO_SERVER = Setting(
    "GRADER_NO_SERVER",
    FLAG,
    False,
    "off",
    "`1`: never start or use the warm server (put it in your shell's profile to turn the server off for good; "
    "`CI=true` does the same)",
    option="--no-server",
)
CI = Setting("CI", FLAG, False, "off", "set by CI services (`true`): as `GRADER_NO_SERVER=1`", off=("", "0", "false"))
SERVER_IDLE = Setting(
    "GRADER_SERVER_IDLE",
    SECONDS,
    900.0,
    "900",
    "seconds the warm server waits idle before it exits (it holds about 500 MB while it runs; at least 0.1)",
    minimum=0.1,
)
SERVER_DIR = Setting(
    "GRADER_SERVER_DIR",
    PATH,
    None,
    "`$XDG_RUNTIME_DIR/nngrade`, else `/tmp/nngrade-<uid>`",
    "where the warm server's socket lives (a folder only you may read)",
)
HINT_LEVEL = Setting(
    "GRADER_HINT_LEVEL",
    CHOICE,
    None,
    "the course's setting, else `fix`",
    "`concept`: hints name the mistake's concept only; `fix`: they also show the fix",
    option="--hint-level",
    choices=("fix", "concept"),
)
SEED_SECRET = Setting(
    "GRADER_SEED_SECRET",
    SECRET,
    None,
    "`--out/.grader-secret`, created once",
    "the course secret the per-student seeds of `grade batch` come from",
    audience=INSTRUCTORS,
    editions=INSTRUCTOR,
    option="--seed-secret",
)
COURSE = Setting(
    "GRADER_COURSE",
    PATH,
    None,
    "the built-in course",
    "the course to grade with: a folder holding `course.toml` ([authoring a course](../instructors/authoring.md)); "
    "a warm server started for another course is replaced",
    audience=INSTRUCTORS,
    editions=INSTRUCTOR,
    option="--course",
)
CGROUP = Setting(
    "GRADER_CGROUP",
    PATH,
    None,
    "this process's own cgroup",
    "the cgroup v2 folder under which each worker gets its memory cgroup",
    audience=INSTRUCTORS,
)
PIN = Setting(
    "GRADER_PIN",
    FLAG,
    True,
    "on",
    "`0`: do not pin the batch's grading processes to cores",
    audience=INSTRUCTORS,
    editions=INSTRUCTOR,
)
MNIST_DIR = Setting(
    "GRADER_MNIST_DIR",
    PATH,
    None,
    "`../shared/data/MNIST/raw`",
    "where the MNIST test set's raw IDX files are (`tests/test_mnist.py`)",
    audience=INSTRUCTORS,
)
AUTOGRADER_ROOT = Setting(
    "AUTOGRADER_ROOT",
    PATH,
    "/autograder",
    "`/autograder`",
    "where the Gradescope bundle's `run_autograder` finds `source/`, `submission/` and `results/`",
    audience=INSTRUCTORS,
    editions=INSTRUCTOR,
    option="--root",
)
TORCH_INDEX = Setting(
    "NNGRADE_TORCH_INDEX",
    TEXT,
    "https://download.pytorch.org/whl/cpu",
    "the CPU-only wheel's index",
    "the index the Gradescope bundle's `setup.sh` installs torch from (set but empty: pip's own index)",
    audience=INSTRUCTORS,
    editions=INSTRUCTOR,
    empty="pip's own index",
)
NO_FREEZE = Setting(
    "GRADER_NO_FREEZE",
    FLAG,
    False,
    "off",
    "do not `gc.freeze()` what the zygote imported before it forks (the garbage collector then touches, "
    "and so copies, it in every worker)",
    audience=INTERNAL,
)
ZYGOTE_PRELOAD = Setting(
    "GRADER_ZYGOTE_PRELOAD",
    FLAG,
    False,
    "off",
    "the zygote imports the suites' torch modules before it forks (the batch's zygotes)",
    audience=INTERNAL,
)
ZYGOTE_HUGEPAGES = Setting(
    "GRADER_ZYGOTE_HUGEPAGES",
    FLAG,
    False,
    "off",
    "the zygote asks for huge pages (many workers from one zygote)",
    audience=INTERNAL,
)
ZYGOTE_WARM_META = Setting(
    "GRADER_ZYGOTE_WARM_META", FLAG, False, "off", "the zygote warms the meta device before it forks", audience=INTERNAL
)

SETTINGS = (
    NO_SERVER,
    CI,
    SERVER_IDLE,
    SERVER_DIR,
    HINT_LEVEL,
    SEED_SECRET,
    COURSE,
    CGROUP,
    PIN,
    MNIST_DIR,
    AUTOGRADER_ROOT,
    TORCH_INDEX,
    NO_FREEZE,
    ZYGOTE_PRELOAD,
    ZYGOTE_HUGEPAGES,
    ZYGOTE_WARM_META,
)
BY_NAME = {s.name: s for s in SETTINGS}


def for_edition(edition: str) -> tuple:
    """The settings an edition reads ("student": those of both editions)."""
    return tuple(s for s in SETTINGS if edition != "student" or s.editions == BOTH)


def export(setting: Setting, value: str | None, environ: dict | None = None) -> None:
    """Set ``setting`` to ``value`` (None: unset it) in ``environ`` (default: this process's
    environment, and so the processes it starts)."""
    env = os.environ if environ is None else environ
    if value is None:
        env.pop(setting.name, None)
    else:
        env[setting.name] = value


def table(audience: str) -> str:
    """The Markdown table of the settings for ``audience`` (the settings page's)."""
    rows = [s for s in SETTINGS if s.audience == audience]
    if audience == INTERNAL:
        lines = ["| variable | what it does |", "|---|---|"]
        lines += [f"| `{s.name}` | {s.help} |" for s in rows]
        return "\n".join(lines)
    lines = ["| variable | default | what it does |", "|---|---|---|"]
    for s in rows:
        default = s.default_text if "`" in s.default_text or " " in s.default_text else f"`{s.default_text}`"
        wins = f" (`{s.option}` wins)" if s.option else ""
        only = " Instructor's edition only." if s.editions == INSTRUCTOR else ""
        lines.append(f"| `{s.name}` | {default} | {s.help}{wins}{only} |")
    return "\n".join(lines)
