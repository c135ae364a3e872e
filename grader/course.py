"""A course is a folder: ``course.toml`` declares it, and this module reads it.

The declaration (every key but ``[[exercise]]``'s ``topic`` and ``title`` has a default)::

    title = "Neural networks from scratch"
    points = 10                     # each exercise's points (its tests' points marks sum to this)
    hint_level = "fix"              # "fix" or "concept" (GRADER_HINT_LEVEL and --hint-level override it)
    forbidden = "forbidden.toml"    # the built-ins each exercise forbids (none when absent)
    imports = "imports.toml"        # what students' code may import besides the standard library (torch)

    [files]                         # where each exercise's files are, relative to course.toml
    stub = "{stem}/stub.py"         # what the student starts from
    solution = "{stem}/solution.py" # the model answer
    reference = "{stem}/reference.py"  # the oracle the hidden suite compares with
    suite = "{stem}/{suite}"        # the hidden suite (pytest; its visible tests are marked visible)
    mistakes = "{stem}/mistakes"    # bug_*.py (first line: # hint: REGEX) and ok_*.py, checked by check-course

    [[exercise]]                    # one per exercise, in course order (exercise1, exercise2, ...)
    topic = "layer_norm"            # exercise1_layer_norm.py is the student's file
    title = "Layer normalisation"
    names = ["layer_norm"]          # what the student's file must define
    meta = false                    # its suite runs student code on the meta device
    preload = false                 # its tests want the worker to preload torch.optim's imports
    points = 20                     # this exercise's points, when not the course's ``points``

``{stem}`` is the student's file name without ``.py`` (``exercise1_layer_norm``), ``{file}``
that file's name, ``{suite}`` the hidden suite's (``test_exercise1_layer_norm.py``) and ``{name}``
the exercise's (``exercise1``).

The course in use: ``GRADER_COURSE`` (a folder, or its course.toml), set by ``--course``;
else the built-in course (``grader/course.toml``).  Reading a declaration reads no suite, no
reference and no answer: a worker's zygote may hold it (tests/untrusted/test_memory_scan.py).
Standard library only, so that ``grade`` starts fast.
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from pathlib import Path
from typing import NoReturn

from grader import settings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

VARIABLE = settings.COURSE.name
FILE = "course.toml"
BUILTIN = Path(__file__).resolve().parent / FILE
DEFAULT_FILES = {
    "stub": "{stem}/stub.py",
    "solution": "{stem}/solution.py",
    "reference": "{stem}/reference.py",
    "suite": "{stem}/{suite}",
    "mistakes": "{stem}/mistakes",
}
HINT_LEVELS = ("fix", "concept")
TOPIC = re.compile(r"[a-z][a-z0-9_]*")
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class CourseError(ValueError):
    """A course folder or declaration that cannot be used: the message says what and where."""


@dataclasses.dataclass(frozen=True)
class Exercise:
    number: int
    topic: str
    title: str
    names: tuple  # what the student's file must define
    preload: bool = False  # its tests want the zygote's preload (torch.optim builds)
    meta: bool = False  # its suite runs student code on the meta device (declared here, so that
    # nobody reads the hidden suite's text before the zygote is forked; tests/untrusted/test_memory_scan.py)
    points: float = 10.0  # its tests' points marks sum to this (the course's points unless it says)

    @property
    def name(self) -> str:
        return f"exercise{self.number}"

    @property
    def file(self) -> str:
        return f"exercise{self.number}_{self.topic}.py"

    @property
    def suite(self) -> str:
        return f"test_exercise{self.number}_{self.topic}.py"


@dataclasses.dataclass(frozen=True)
class Course:
    root: Path  # the folder holding course.toml
    title: str
    exercises: tuple  # of Exercise, in course order
    points: float = 10.0  # each exercise's, unless its [[exercise]] says
    hint_level: str | None = None
    forbidden: Path | None = None
    imports: Path | None = None
    files: tuple = tuple(sorted(DEFAULT_FILES.items()))
    builtin: bool = False

    def path(self, kind: str, exercise: Exercise) -> Path:
        """Where ``exercise``'s ``kind`` (stub, solution, reference, suite, mistakes) is."""
        pattern = dict(self.files)[kind]
        stem = exercise.file.removesuffix(".py")
        return (
            self.root / pattern.format(stem=stem, file=exercise.file, suite=exercise.suite, name=exercise.name)
        ).resolve()

    def suite_path(self, exercise: Exercise) -> Path:
        return self.path("suite", exercise)

    def suite_root(self) -> Path:
        """The folder pytest runs the suites from (their common folder)."""
        return Path(os.path.commonpath([str(self.suite_path(ex).parent) for ex in self.exercises]))


def _fail(where: Path, message: str) -> NoReturn:
    raise CourseError(f"{where}: {message}")


def _points(where: Path, at: str, points) -> float:
    """A ``points`` value: a positive number of whole hundredths (CourseError otherwise)."""
    if (
        isinstance(points, bool)
        or not isinstance(points, (int, float))
        or points <= 0
        or round(points * 100) != points * 100
    ):
        _fail(where, f"{at}points must be a positive number of whole hundredths, not {points!r}")
    return float(points)


def _exercise(where: Path, number: int, entry, points: float) -> Exercise:
    at = f"exercise {number} ([[exercise]] number {number})"
    if not isinstance(entry, dict):
        _fail(where, f"{at} is not a table")
    unknown = set(entry) - {"topic", "title", "names", "meta", "preload", "points"}
    if unknown:
        _fail(where, f"{at}: unknown key(s) {', '.join(sorted(unknown))} (topic, title, names, meta, preload, points)")
    topic, title = entry.get("topic"), entry.get("title")
    if not isinstance(topic, str) or not TOPIC.fullmatch(topic):
        _fail(
            where,
            f"{at}: topic must be lower-case letters, digits and _ (it names exercise{number}_TOPIC.py), not {topic!r}",
        )
    if not isinstance(title, str) or not title.strip():
        _fail(where, f"{at}: give it a title")
    names = entry.get("names", [])
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and NAME.fullmatch(n) for n in names):
        _fail(where, f"{at}: names must list the Python names the student's file defines, not {names!r}")
    for key in ("meta", "preload"):
        if not isinstance(entry.get(key, False), bool):
            _fail(where, f"{at}: {key} is true or false")
    return Exercise(
        number,
        topic,
        title.strip(),
        tuple(names),
        preload=entry.get("preload", False),
        meta=entry.get("meta", False),
        points=_points(where, f"{at}: ", entry["points"]) if "points" in entry else points,
    )


def _optional_file(where: Path, data: dict, key: str) -> Path | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        _fail(where, f"{key} is a file name (relative to {FILE})")
    path = (where.parent / value).resolve()
    if not path.is_file():
        _fail(where, f"{key} = {value!r}: there is no file {path}")
    return path


def _files(where: Path, data: dict) -> tuple:
    files = dict(DEFAULT_FILES)
    given = data.get("files", {})
    if (
        not isinstance(given, dict)
        or set(given) - set(DEFAULT_FILES)
        or not all(isinstance(v, str) for v in given.values())
    ):
        _fail(
            where,
            f"[files] maps {', '.join(DEFAULT_FILES)} to paths (with {{stem}}, {{file}}, {{suite}}, {{{{name}}}})",
        )
    files.update(given)
    for kind, pattern in files.items():
        try:
            pattern.format(stem="x", file="x.py", suite="test_x.py", name="exercise1")
        except (KeyError, IndexError, ValueError):
            _fail(
                where, f"[files] {kind} = {pattern!r}: only {{stem}}, {{file}}, {{suite}} and {{name}} may be filled in"
            )
    return tuple(sorted(files.items()))


def parse(where: Path, data: dict, builtin: bool = False) -> Course:
    """The course ``data`` (course.toml at ``where``, read) declares; CourseError says what is wrong."""
    unknown = set(data) - {"title", "points", "hint_level", "forbidden", "imports", "files", "exercise"}
    if unknown:
        _fail(where, f"unknown key(s) {', '.join(sorted(unknown))}")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        _fail(where, 'give the course a title (title = "...")')
    points = _points(where, "", data.get("points", 10))
    level = data.get("hint_level")
    if level is not None and level not in HINT_LEVELS:
        _fail(where, f"hint_level must be one of {', '.join(HINT_LEVELS)}, not {level!r}")
    entries = data.get("exercise", [])
    if not isinstance(entries, list) or not entries:
        _fail(where, "declare the exercises, in order, as [[exercise]] tables")
    exercises = tuple(_exercise(where, k, e, points) for k, e in enumerate(entries, 1))
    topics = [ex.topic for ex in exercises]
    if len(set(topics)) != len(topics):
        _fail(where, "two exercises have the same topic")
    return Course(
        root=where.parent,
        title=title.strip(),
        exercises=exercises,
        points=points,
        hint_level=level,
        forbidden=_optional_file(where, data, "forbidden"),
        imports=_optional_file(where, data, "imports"),
        files=_files(where, data),
        builtin=builtin,
    )


_LOADED: dict = {}


def load(path) -> Course:
    """The course of a folder (or of its course.toml); CourseError, with a message for the user, if it
    cannot be used.  Loaded once per process."""
    p = Path(path).expanduser()
    where = p if p.suffix == ".toml" else p / FILE
    key = os.path.abspath(where)
    if key not in _LOADED:
        if p.suffix != ".toml" and not p.is_dir():
            raise CourseError(f"the course folder {p} does not exist")
        try:
            with open(where, "rb") as f:
                data = tomllib.load(f)
        except FileNotFoundError:
            raise CourseError(
                f"{p} holds no {FILE}: a course folder declares its exercises there "
                "(grade new-exercise NAME --course DIR starts one)"
            ) from None
        except OSError as e:
            raise CourseError(f"cannot read {where}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise CourseError(f"{where} is not valid TOML: {e}") from None
        _LOADED[key] = parse(Path(key), data, builtin=Path(key) == BUILTIN)
    return _LOADED[key]


def builtin() -> Course:
    return load(BUILTIN)


ELSEWHERE = (
    "the built-in course's files (stubs, model answers) are in nngrade's source repository, not in this "
    "installed package: run this from a checkout of it, or give your own course with --course DIR"
)


def files_elsewhere(course: Course) -> str | None:
    """The one line that says so when ``course`` is the built-in one run from an installed package
    (its stubs and model answers are in the repository, beside the package, not in it: none of
    them is here); else None."""
    if not course.builtin:
        return None
    here = [course.path(kind, ex).is_file() for ex in course.exercises for kind in ("stub", "solution")]
    return None if any(here) else ELSEWHERE


def chosen() -> str | None:
    """The course folder GRADER_COURSE names, or None (the built-in course)."""
    return str(settings.COURSE.value() or "").strip() or None


def current() -> Course:
    """The course in use in this process: GRADER_COURSE's, else the built-in one."""
    where = chosen()
    return load(where) if where else builtin()


def use(path) -> Course:
    """Grade ``path``'s course from now on, in this process and those it starts (GRADER_COURSE)."""
    course = load(path)
    settings.export(settings.COURSE, str(course.root))
    return course


OPTION_HELP = (
    "the course to grade with: a folder holding course.toml (default: $GRADER_COURSE, else the built-in course)"
)


def add_option(parser) -> None:
    """A command's ``--course DIR`` (applied by ``from_argv`` before the command parses its arguments)."""
    parser.add_argument("--course", metavar="DIR", default=None, help=OPTION_HELP)


def from_argv(argv) -> str | None:
    """The folder ``--course DIR`` or ``--course=DIR`` names in ``argv`` (the last one), or None."""
    found = None
    for k, arg in enumerate(argv):
        if arg == "--":
            break
        if arg == "--course" and k + 1 < len(argv):
            found = argv[k + 1]
        elif arg.startswith("--course="):
            found = arg.partition("=")[2]
    return found


def choose(argv) -> str | None:
    """Use the course ``argv``'s --course names, else check GRADER_COURSE's: None, or what is wrong
    (a message for the user)."""
    where = from_argv(argv)
    try:
        if where is not None:
            use(where)
        else:
            current()
    except CourseError as e:
        return str(e) + ("" if where is not None else f" (from {VARIABLE})")
    return None


def apply(where: str | None) -> str | None:
    """A command's parsed --course (None: keep the course in use): what is wrong with it, or None."""
    return None if where is None else choose(["--course", where])
