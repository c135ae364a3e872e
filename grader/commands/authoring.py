"""Authoring a course: ``grade new-exercise`` scaffolds an exercise that grades out of the box, and
``grade check-course`` checks a course before its students see it.

A course is a folder (``grader.course``): ``course.toml`` and, per exercise, the stub, the model
answer, the reference, the hidden suite and, in ``mistakes/``, known bugs and correct alternatives
(the format of the built-in course's tests/corpus).  ``check-course`` grades the model answers (each
must earn every point), the stubs (each must earn none) and the mistakes folder's files (each bug
loses points and is named by its hint, each alternative earns every point), and adds up each
exercise's points.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

from grader.atomic import write_atomic
from grader.course import FILE, TOPIC, CourseError, current, files_elsewhere, parse, tomllib, use
from grader.exercises import add_exercises_option

NEW_DESCRIPTION = """\
Scaffold exercise NAME in the course folder DIR (made, with its course.toml, when it does
not exist): a stub, a model answer, a reference and a hidden suite of declared checks, in
DIR/exerciseN_NAME/, and its [[exercise]] entry at the end of DIR/course.toml.  It grades
out of the box (the model answer full, the stub zero: grade check-course DIR); then make it
yours: the stub's docstring, the answer, the reference, the checks.
"""

CHECK_DESCRIPTION = """\
Check a course before students see it: every exercise's files are where course.toml says,
its tests' points add up to its points (its [[exercise]]'s `points`, else the course's), its
model answer defines its `names`, earns every point and passes the student edition's checks
(grade release), its stub earns none, and in its mistakes folder each wrong answer
(bug_*.py, first line `# hint: REGEX`) loses points and is named by its hint (one that names
that mistake alone), each correct one (ok_*.py) earns every point.  Lists each problem and
exits 1 when there is one; warns of files still as grade new-exercise wrote them, of an
exercise without a bug_*.py and of a forbidden.toml or imports.toml that course.toml does not name.
"""

STUB = '''"""Exercise {number}: {title}.

Write `{topic}(x)`: it returns 2 * x, with x's shape, dtype and device.
(The scaffold's example: describe your exercise here, as students will read it.)
"""
import torch


def {topic}(x: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError("write {topic}")
'''

SOLUTION = '''"""Exercise {number}: {title} (the model answer)."""
import torch


def {topic}(x: torch.Tensor) -> torch.Tensor:
    return 2 * x
'''

REFERENCE = '''"""The reference for exercise {number} ({title}): the hidden suite compares the student's
results with it.  Written apart from the model answer, so that the two check each other."""
import torch


def {topic}(x: torch.Tensor) -> torch.Tensor:
    return x + x
'''

SUITE = '''"""Hidden suite for exercise {number}: {title}.

Scaffolded by grade new-exercise: its tests come from the description below (grade's
declarative checks; docs/instructors/authoring.md, "Checks from a short description").  Each
test's points are in ``points`` (they add up to the exercise's points, in course.toml); the visible
test may show its input in full.  Tests of your own go below it, with the same helpers.
"""

from grader.suites.common import EXACT, Checks, Misconception, course_reference, declare, randn

reference = course_reference(__file__)

# the mistakes students make: a result equal to a wrong variant's is named by its hint
UNCHANGED = Misconception("unchanged", "{topic}(x) returned x itself: multiply it by 2, `2 * x`.")

CHECKS = Checks(
    fn="{topic}",
    reference=reference.{topic},
    inputs=lambda rng, shape, dtype, device: ([randn(rng, shape, dtype, device)], "normal values"),
    shapes={{"2d": (4, 5), "3d": (2, 3, 4)}},  # each in float32 and float64
    tolerance=EXACT,
    mistakes=[(UNCHANGED, lambda x: x)],
    unchanged=True,  # test_input_not_modified
    gradients=True,  # test_gradcheck, in float64
    devices=True,  # test_follows_input_device
    points={points},
)
declare(globals(), CHECKS)  # test_matches_reference (visible), ... and MATCHES_REFERENCE, its data for grade release
'''

MISTAKE = '''# hint: returned x itself
"""A wrong answer (the scaffold's example): {topic} returns x unchanged.

The mistakes folder holds the mistakes students make, one file each, bug_NAME.py, whose first line is
`# hint: REGEX`, a regular expression the hint naming the mistake matches, and right answers written
another way, ok_NAME.py.  grade check-course grades each: a bug must lose points and be named by its
hint, a right answer must earn every point.  Replace this file with your exercise's mistakes.
"""
import torch


def {topic}(x: torch.Tensor) -> torch.Tensor:
    return x
'''

# what grade new-exercise writes, by kind of file (the mistakes folder: its example, bug_unchanged.py)
TEMPLATES = {"stub": STUB, "solution": SOLUTION, "reference": REFERENCE, "suite": SUITE, "mistakes": MISTAKE}
EXAMPLE_MISTAKE = "bug_unchanged.py"

COURSE = """# A course (grade new-exercise made this file; docs/instructors/authoring.md and grader/course.py
# document every key).  Each [[exercise]] below is a folder exerciseN_TOPIC/ beside this file.
title = {title}
points = 10
# forbidden = "forbidden.toml"   # the built-ins each exercise forbids (its format: grader/verdicts/forbidden.toml's)
# imports = "imports.toml"       # what students' code may import besides the standard library (torch)
"""


class _Usage(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _Usage(message)


def _fail(verb: str, message: str, status: int = 2) -> int:
    print(f"grade {verb}: error: {message}", file=sys.stderr)
    return status


def _write_new(path: Path, text: str) -> None:
    """Write a file that must not exist yet (nothing is ever replaced)."""
    with open(path, "x", encoding="utf-8") as f:
        f.write(text)


def scaffold(folder: Path, topic: str, title: str | None = None) -> Path:
    """Add exercise ``topic`` to the course in ``folder`` (made when missing); returns its folder.
    CourseError says what stands in the way."""
    if not TOPIC.fullmatch(topic):
        raise CourseError(
            f"{topic!r} cannot name an exercise: use lower-case letters, digits and _ "
            "(it names the student's file and the function they write), e.g. layer_norm"
        )
    folder = folder.expanduser()
    toml = folder / FILE
    text = (
        toml.read_text(encoding="utf-8")
        if toml.is_file()
        else COURSE.format(title=_toml_string(folder.resolve().name.replace("_", " ").replace("-", " ").capitalize()))
    )
    _refuse_a_topic_taken(toml, text, topic)
    title = title or topic.replace("_", " ").capitalize()
    entry = f'\n[[exercise]]\ntopic = "{topic}"\ntitle = {_toml_string(title)}\nnames = ["{topic}"]\n'
    try:
        data = tomllib.loads(text + entry)
    except tomllib.TOMLDecodeError as e:
        raise CourseError(f"{toml} is not valid TOML: {e}") from None
    course = parse(toml.absolute(), data)  # refuses a topic already taken, say
    ex = course.exercises[-1]
    where = _scaffold_paths(course, ex)
    taken = [str(p) for p in where.values() if p.exists()]
    if taken:
        raise CourseError(f"{', '.join(taken)} already exist(s): nothing was written (nothing is ever replaced)")
    folder.mkdir(parents=True, exist_ok=True)
    for kind, text_of_kind in _scaffold_texts(ex).items():
        where[kind].parent.mkdir(parents=True, exist_ok=True)
        _write_new(where[kind], text_of_kind)
    write_atomic(toml, text + entry)
    return where["suite"].parent


def _refuse_a_topic_taken(toml: Path, text: str, topic: str) -> None:
    """CourseError when the course (``text``, its course.toml) has an exercise ``topic`` already."""
    try:
        course = parse(toml.absolute(), tomllib.loads(text))
    except (CourseError, tomllib.TOMLDecodeError):
        return  # said below, with the new entry
    for ex in course.exercises:
        if ex.topic == topic:
            raise CourseError(f"exercise {topic!r} already exists ({ex.name} in {toml}): nothing was written")


def _scaffold_paths(course, ex) -> dict:
    """{kind: the file} of what grade new-exercise writes for ``ex``."""
    where = {kind: course.path(kind, ex) for kind in TEMPLATES if kind != "mistakes"}
    return {**where, "mistakes": course.path("mistakes", ex) / EXAMPLE_MISTAKE}


def _scaffold_texts(ex) -> dict:
    """{kind: the text} grade new-exercise writes for ``ex``."""
    fill = {"number": ex.number, "title": ex.title, "topic": ex.topic, "points": _points(ex.points)}
    return {kind: template.format(**fill) for kind, template in TEMPLATES.items()}


def _points(total: float) -> str:
    """The scaffold's points: a tenth of ``total`` for the input and device tests, a fifth for gradcheck,
    the rest for matching the reference (6, 1, 2, 1 of 10)."""
    tenth, fifth = round(total * 10) / 100, round(total * 20) / 100
    points = {
        "matches_reference": round(total - 2 * tenth - fifth, 2),
        "input_not_modified": tenth,
        "gradcheck": fifth,
        "follows_input_device": tenth,
    }
    return "{" + ", ".join(f'"{k}": {v:g}' for k, v in points.items()) + "}"


def _toml_string(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def new_exercise_main(argv) -> int:
    p = _Parser(
        prog="grade new-exercise",
        description=NEW_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  grade new-exercise layer_norm --course mycourse --title 'Layer normalisation'\n"
        "  grade check-course mycourse",
    )
    p.add_argument(
        "name",
        metavar="NAME",
        help="the exercise's topic: its file is exerciseN_NAME.py, and the scaffold's function is NAME",
    )
    p.add_argument("--course", metavar="DIR", type=Path, required=True, help="the course folder")
    p.add_argument("--title", default=None, help="the exercise's title (default: from NAME)")
    try:
        args = p.parse_args(argv)
    except _Usage as e:
        return _fail("new-exercise", f"{e} (see: grade new-exercise --help)")
    try:
        made = scaffold(args.course, args.name, args.title)
    except CourseError as e:
        return _fail("new-exercise", str(e))
    except OSError as e:
        return _fail("new-exercise", f"cannot write {e.filename or args.course}: {e.strerror or e}")
    try:  # the folder as the author named the course's: mycourse/exercise1_gelu, not its absolute path
        made = args.course / made.resolve().relative_to(args.course.expanduser().resolve())
    except ValueError:
        pass
    print(
        f"grade new-exercise: wrote {made}/ (stub, model answer, reference, hidden suite, an example mistake in "
        f"mistakes/) and its entry in "
        f"{args.course / FILE}; check it: grade check-course {args.course}",
        file=sys.stderr,
    )
    return 0


# ---------------------------------------------------------------------------
# grade check-course


def _missing_files(course, exercises) -> list:
    problems = []
    for ex in exercises:
        for kind in ("stub", "solution", "reference", "suite"):
            if course.builtin and kind == "reference":
                continue  # the built-in suites import the reference package
            if not course.path(kind, ex).is_file():
                problems.append(f"{ex.name} ({ex.title}): its {kind} {course.path(kind, ex)} does not exist")
    return problems


def _suite_problems(course, exercises) -> list:
    """The hidden suites that cannot be imported (a syntax error, a missing name), with the error."""
    from grader.harness.points import suite_module

    problems = []
    for ex in exercises:
        try:
            suite_module(ex)
        except Exception as e:  # the author's mistake, said in one line
            where = f" (line {e.lineno})" if isinstance(e, SyntaxError) and e.lineno else ""
            problems.append(
                f"{ex.name} ({ex.title}): its hidden suite {course.suite_path(ex)} cannot be imported"
                f"{where}: {type(e).__name__}: {e}"
            )
    return problems


def _submission(course, kind: str, exercises, into: Path) -> Path:
    """A submission folder holding each exercise's ``kind`` (stub or solution) under the student's file name."""
    into.mkdir()
    for ex in exercises:
        shutil.copyfile(course.path(kind, ex), into / ex.file)
    return into


def _lost(test: dict) -> str:
    first = (test.get("message") or test.get("status") or "").strip().splitlines()
    return f"{test['name']} ({test['max_score'] - test['score']:g} points): {first[0] if first else ''}"


FRAME = re.compile(r'\s*File "(.+)", line (\d+), in (.+)')


def suite_error(trace: str, root: Path) -> str:
    """What a test's traceback (``trace``, Python's format) says went wrong: the exception's type and
    message, and where it was raised: the last frame in the course folder ``root`` (the author's
    suite), else the last frame."""
    lines = trace.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    lines = lines[starts[-1] :] if starts else lines  # the exception raised last
    frames = [(i, m) for i, line in enumerate(lines) if (m := FRAME.fullmatch(line))]
    after = lines[frames[-1][0] + 1 :] if frames else lines
    error = next((line for line in after if line and not line[0].isspace()), lines[-1] if lines else "")
    if not frames:
        return error
    inside = [m for _, m in frames if Path(m.group(1)).resolve().is_relative_to(root.resolve())]
    at = (inside or [frames[-1][1]])[-1]
    where = f"{at.group(1)}:{at.group(2)}, in {at.group(3)}"
    return (
        f"{error} (raised at {where})" if inside else f"{error} (raised at {where}; no line of the course's is in it)"
    )


def broken_tests(exercise: dict) -> dict:
    """{test: the suite's own error} of the tests that failed with the grader's error, its traceback kept."""
    return {t["name"]: t["trace"] for t in exercise["tests"] if t.get("kind") == "internal" and t.get("trace")}


def judge(course, exercise: dict, stub: dict) -> list:
    """What is wrong with one exercise, from its result on the model answer (``exercise``) and on the stub."""
    name = f"{exercise['name']} ({exercise['title']})"
    problems = []
    if exercise["status"] != "graded":
        first = (exercise.get("message") or "").strip().splitlines()
        problems.append(f"{name}: the model answer was not graded ({exercise['status']}): {first[0] if first else ''}")
    total = round(sum(t["max_score"] for t in exercise["tests"]), 2)
    declared = next(ex.points for ex in course.exercises if ex.name == exercise["name"])
    if exercise["status"] == "graded" and total != declared:
        problems.append(
            f"{name}: its tests' points add up to {total:g}, and the course gives it {declared:g} "
            f"(points in {FILE}, the course's or its [[exercise]]'s; each test's in its suite: @pytest.mark.points, "
            "or a declared suite's Checks(points={...}))"
        )
    broken = broken_tests(exercise)
    errors: dict = {}  # the suite's error: the tests it breaks
    for test, trace in broken.items():
        errors.setdefault(suite_error(trace, course.root), []).append(test)
    for error, tests in errors.items():
        problems.append(
            f"{name}: the hidden suite itself fails (the course's error, not the answer's) in {', '.join(tests)}: {error}"
        )
    lost = [t for t in exercise["tests"] if t["score"] < t["max_score"] and t["name"] not in broken]
    if lost:
        problems.append(f"{name}: the model answer loses points: " + "; ".join(_lost(t) for t in lost[:5]))
    earned = [t for t in stub["tests"] if t["score"] > 0]
    if earned:
        problems.append(
            f"{name}: the stub earns {stub['score']:g} points (a stub should earn none): "
            + ", ".join(t["name"] for t in earned[:5])
            + " pass on it"
        )
    return problems


HINT_LINE = re.compile(r"#\s*hint:\s*(.+)")


def mistakes(course, exercise) -> list:
    """[(file, the regex its hint must match)] of ``exercise``'s mistakes folder, the known-bug
    corpus's format: ``bug_*.py`` starts with a line ``# hint: <regex>`` (None when it does not);
    ``ok_*.py`` is a correct answer written another way (its regex: None)."""
    folder = course.path("mistakes", exercise)
    found = []
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        m = HINT_LINE.fullmatch(lines[0].strip()) if lines else None
        found.append((path, m.group(1) if m else None))
    return found


def _failed_tests(entry: dict) -> list:
    return [t for t in entry["tests"] if t["status"] not in ("passed", "skipped")]


def judge_mistake(entry: dict, path: Path, hint: str | None, broken=()) -> str | None:
    """What is wrong with how the suite treats one file of the mistakes folder (its result ``entry``):
    a correct answer (``ok_*.py``) must earn every point; a wrong one must lose points, with no blank
    hint, and some failed test's hint (or message) must match ``hint``, case-insensitive.  The tests
    ``broken`` (those the suite itself fails in on the model answer) are left out: what they say
    follows from that error."""
    name = f"{entry['name']} ({entry['title']}): {path.parent.name}/{path.name}"
    lost = [t for t in _failed_tests(entry) if t["name"] not in broken]
    if path.name.startswith("ok_"):
        # what its tests take off (an exercise whose points are not its tests' sum is a problem said apart);
        # the exercise's own shortfall only when it has no test results (its file could not be graded)
        short = sum(t["max_score"] - t["score"] for t in lost)
        if short > 0:
            return f"{name} is a correct answer and loses {short:g} points: " + "; ".join(
                _lost_line(t) for t in lost[:3]
            )
        if not entry["tests"] and entry["max_score"] > entry["score"]:
            why = (entry.get("message") or "").strip().splitlines()
            return f"{name} is a correct answer and loses {entry['max_score'] - entry['score']:g} points: " + (
                why[0] if why else str(entry.get("status"))
            )
        return None
    if not hint:
        return f"{name} says no hint: its first line must be '# hint: <a regex the hint that names it matches>'"
    try:
        pattern = re.compile(hint, re.I)
    except re.error as e:
        return f"{name}: its hint line is not a regular expression ({e})"
    if not lost:
        return f"{name} earns every point: no test catches it"
    blank = [t["name"] for t in lost if not (t.get("hint") or "").strip()]
    if blank:
        return f"{name} loses points without a hint in {', '.join(blank[:4])}"
    said = [(t["name"], t.get("hint") or t.get("message") or "") for t in lost]
    said += [("the exercise", entry["hint"])] if (entry.get("hint") or "").strip() else []
    return _named(name, hint, pattern, said)


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:120] if lines else ""


def _named(name: str, hint: str, pattern: re.Pattern, said: list) -> str | None:
    """What is wrong with how the failed tests' hints (``said``: [(test, its hint)]) name a mistake: its
    regex must match a hint that names it alone, not only one that names it together with others
    (``More than one bug gives exactly this result: ...``)."""
    from grader.verdicts.hints import JOINED

    matched = [(test, text) for test, text in said if pattern.search(text)]
    if not matched:
        return (
            f"{name} is not named by its hint: no hint matches {hint!r}; {said[0][0]} says {_first_line(said[0][1])!r}"
        )
    if any(not text.startswith(JOINED) for _, text in matched):
        return None
    alone = [(test, text) for test, text in said if not text.startswith(JOINED)]
    test, text = matched[0]
    if not alone:
        return (
            f"{name}: the hint is ambiguous on every test: each failed test's hint names more than one mistake "
            f"({test} says {_first_line(text)!r}): add a test whose inputs tell them apart"
        )
    return (
        f"{name} is named only together with another mistake: {hint!r} matches only {test}'s "
        f"{_first_line(text)!r}, not a hint that names one mistake alone ({alone[0][0]} says "
        f"{_first_line(alone[0][1])!r})"
    )


def _lost_line(test: dict) -> str:
    first = (test.get("message") or "").strip().splitlines()
    return f"{test['name']}: {first[0] if first else test['status']}"


def _check_mistakes(course, exercises, grade_folder, work: Path, progress, broken=None) -> list:
    """Grade each file of ``exercises``' mistakes folders: every wrong answer named by its own hint,
    every correct one full.  ``broken``: {exercise: the tests its suite itself fails in}, left out."""
    problems = []
    for ex in exercises:
        for k, (path, hint) in enumerate(mistakes(course, ex)):
            folder = work / f"mistake-{ex.name}-{k}"
            folder.mkdir()
            shutil.copyfile(path, folder / ex.file)
            report = grade_folder([ex], folder)
            if report.get("grading_failed"):
                return [f"the grading itself failed: {report['grading_failed']}"]
            entry, skip = report["exercises"][0], (broken or {}).get(ex.name, ())
            if skip and all(t["name"] in skip for t in _failed_tests(entry)):
                progress(
                    f"  {ex.name}: {path.name} "
                    + ("gets full marks but for" if path.name.startswith("ok_") else "not checked: it fails only")
                    + " the tests the hidden suite itself fails in"
                )
                continue
            problem = judge_mistake(entry, path, hint, skip)
            problems += [problem] if problem else []
            if not problem:
                progress(
                    f"  {ex.name}: {path.name} "
                    + ("gets full marks" if path.name.startswith("ok_") else "is named by its hint")
                )
    return problems


SCAFFOLD_NAMES = {
    "stub": "stub",
    "solution": "model answer",
    "reference": "reference",
    "suite": "hidden suite",
    "mistakes": f"mistakes/{EXAMPLE_MISTAKE}",
}


def scaffold_warnings(course, exercises) -> list:
    """What still needs the author, though it grades: files still as grade new-exercise wrote them (its
    ``2 * x`` example), and an exercise with no catalogued mistake to check its hints with."""
    warnings = []
    for ex in exercises:
        name = f"{ex.name} ({ex.title})"
        where, texts = _scaffold_paths(course, ex), _scaffold_texts(ex)
        same = [kind for kind, path in where.items() if path.is_file() and _text(path) == texts[kind]]
        if "stub" not in same and where["stub"].is_file() and "(The scaffold's example:" in _text(where["stub"]):
            same.insert(0, "stub")
        if same:
            warnings.append(
                f"{name}: still the scaffold's example (2 * x): its {', '.join(SCAFFOLD_NAMES[k] for k in same)}; "
                "make them the exercise's"
            )
        if not any(path.name.startswith("bug_") for path, _ in mistakes(course, ex)):
            warnings.append(
                f"{name}: no {course.path('mistakes', ex).name}/bug_*.py: your hints are not checked "
                "(put the mistakes students make there, one file each)"
            )
    return warnings


def unread_files(course) -> list:
    """forbidden.toml or imports.toml beside course.toml that course.toml does not name: never read, so
    what it forbids (or allows) does not hold."""
    warnings = []
    for key in () if course.builtin else ("forbidden", "imports"):
        beside = course.root / f"{key}.toml"
        if getattr(course, key) is None and beside.is_file():
            warnings.append(f'{beside} is not read: course.toml names no {key} file (add `{key} = "{key}.toml"` to it)')
    return warnings


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def _defined(path: Path) -> dict | None:
    """{name: whether a def or class made it} of what a Python file defines at its top level (None when
    it cannot be parsed: said elsewhere)."""
    import ast

    try:
        tree = ast.parse(_text(path))
    except (SyntaxError, ValueError):
        return None
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names[node.name] = True
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0]: False for a in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id: False for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def _names_problems(course, exercises) -> list:
    """The names course.toml says the student's file defines (``names``: how a file holding several
    exercises is split, a notebook's cells told apart) that the model answer does not define."""
    problems = []
    for ex in exercises:
        defined = _defined(course.path("solution", ex))
        missing = [n for n in ex.names if defined is not None and n not in defined]
        if defined is not None and missing:
            made = sorted(n for n, by_def in defined.items() if by_def and not n.startswith("_"))
            problems.append(
                f"{ex.name} ({ex.title}): course.toml's names lists {', '.join(map(repr, missing))}, which its "
                f"model answer does not define (it defines {', '.join(made) or 'no function or class'}): names are "
                "what the student's file must define (a class's name for a class)"
            )
    return problems


def _release_problems(course, exercises) -> list:
    """The visible tests that the student edition could not be built from (grader.harness.released):
    one not declared as data, or a declaration of a test that is not visible."""
    from grader.harness.released import ReleaseError, course_cases

    problems = []
    for ex in exercises if not course.builtin else ():  # the built-in course's release has its own tests
        try:
            course_cases(ex)
        except ReleaseError as e:
            problems.append(f"{ex.name} ({ex.title}): cannot be released: {str(e).removeprefix(ex.name + ': ')}")
    return problems


def _student_edition_problems(course, exercises, zygote, work: Path) -> list:
    """The student edition's checks (the visible tests as grade release stores them, replayed as its
    grade does) that the model answer fails: data the release derives otherwise than the hidden test
    checks would tell a student with a right answer that it is wrong."""
    import json

    from grader.errors import StudentError
    from grader.harness.released import ReleaseError, course_cases
    from grader.transport.limits import Limits
    from grader.transport.student import Student
    from grader.verdicts.checks import Failure
    from grader.verdicts.rules import Rules
    from grader.verdicts.student_check import KINDS, decode, encode

    problems = []
    for ex in exercises if not course.builtin else ():  # the built-in course's release has its own tests
        try:
            cases = course_cases(ex)
        except ReleaseError:
            continue  # said by _release_problems
        folder = work / f"edition-{ex.name}"
        folder.mkdir()
        shutil.copyfile(course.path("solution", ex), folder / ex.file)
        student = Student(ex, folder, zygote, Limits(), work / f"edition-{ex.name}-work", rules=Rules())
        try:
            for case in cases:
                case = decode(json.loads(json.dumps(encode(case))))  # as the student package reads it
                label = case["function"] + (f"[{case['id']}]" if case["id"] else "")
                student.begin_test(label)
                device = case.get("device", "cpu")
                try:
                    KINDS[case["kind"]](student, case, "cpu" if device == "every" else device)
                except (Failure, StudentError) as e:
                    first = str(getattr(e, "message", e)).strip().splitlines()
                    problems.append(
                        f"{ex.name} ({ex.title}): the student edition (grade release) fails the model answer in "
                        f"{label}: {first[0] if first else type(e).__name__}"
                    )
                    break
        finally:
            student.close()
    return problems


def check_course(course, exercises=None, progress=print, warn=None) -> list:
    """Every problem of ``course`` (the course in use), as sentences; [] when there is none.  What
    does not fail the check but needs the author (scaffold_warnings) goes to ``warn`` (default:
    ``progress``), a sentence each."""
    from grader.exercises import wants_preload
    from grader.harness.run import grade
    from grader.transport.processes import Zygote

    exercises = list(course.exercises if exercises is None else exercises)
    problems = _missing_files(course, exercises) or _suite_problems(course, exercises)
    if problems:
        return problems
    for warning in unread_files(course) + scaffold_warnings(course, exercises):
        (warn or progress)(warning)
    unreleased = _release_problems(course, exercises)
    problems = _names_problems(course, exercises) + unreleased
    work = Path(tempfile.mkdtemp(prefix="check-course-"))
    zygote = Zygote(preload=wants_preload(exercises))
    try:
        progress(f"grading the model answers of {len(exercises)} exercise(s)")
        answers = grade(
            exercises, _submission(course, "solution", exercises, work / "solutions"), zygote=zygote, author=True
        ).to_dict()
        progress("grading the stubs")
        stubs = grade(
            exercises, _submission(course, "stub", exercises, work / "stubs"), zygote=zygote, author=True
        ).to_dict()
        # an exercise whose release cannot be built, or whose model answer loses points, is said already
        full = {e["name"] for e in answers.get("exercises", []) if e["score"] >= e["max_score"]}
        if not unreleased:
            progress("checking the model answers with the student edition's checks")
            released = [ex for ex in exercises if ex.name in full]
            problems += _student_edition_problems(course, released, zygote, work)
        broken = {ex["name"]: set(broken_tests(ex)) for ex in answers.get("exercises", [])}
        problems += _check_mistakes(
            course,
            exercises,
            lambda exs, folder: grade(exs, folder, zygote=zygote, author=True).to_dict(),
            work,
            progress,
            broken,
        )
    finally:
        zygote.close()
        shutil.rmtree(work, ignore_errors=True)
    for report in (answers, stubs):
        if report.get("grading_failed"):
            return [f"the grading itself failed: {report['grading_failed']}"]
    judged = []  # the model answers' and stubs' problems first, then the mistakes'
    for exercise, stub in zip(answers["exercises"], stubs["exercises"]):
        found = judge(course, exercise, stub)
        judged += found
        if not found:
            progress(
                f"  {exercise['name']} ({exercise['title']}): ok (model answer {exercise['score']:g} of "
                f"{exercise['max_score']:g}, stub {stub['score']:g})"
            )
    return judged + problems


def check_course_main(argv) -> int:
    from grader.exercises import select

    p = _Parser(
        prog="grade check-course", description=CHECK_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "course",
        metavar="DIR",
        nargs="?",
        default=None,
        help="the course folder (default: --course, $GRADER_COURSE, else the built-in course)",
    )
    p.add_argument("--course", dest="course_option", metavar="DIR", default=None, help=argparse.SUPPRESS)
    add_exercises_option(p, help="check these exercises only (default: all)")
    try:
        args = p.parse_args(argv)
    except _Usage as e:
        return _fail("check-course", f"{e} (see: grade check-course --help)")
    try:
        where = args.course or args.course_option
        course = use(where) if where else current()
        exercises = select(args.exercises)
    except CourseError as e:
        return _fail("check-course", str(e))
    except KeyError as e:
        return _fail("check-course", e.args[0])
    elsewhere = files_elsewhere(course)
    if elsewhere:
        return _fail("check-course", elsewhere)
    say = lambda m: print(f"grade check-course: {m}", file=sys.stderr)
    warnings = []

    def warn(message: str) -> None:
        warnings.append(message)
        say(f"warning: {message}")

    problems = check_course(course, exercises, progress=say, warn=warn)
    if problems:
        print(f"grade check-course: {course.root / FILE}: {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    checked = "model answers full, stubs zero, points as declared"
    if warnings:
        say(f"{course.title}: every exercise checked passes ({checked}), but see the {len(warnings)} warning(s) above")
    else:
        say(f"{course.title}: every exercise checked is ready ({checked})")
    return 0
