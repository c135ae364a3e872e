"""The points rule, in one place.

- Each test function of a hidden suite has fixed points, written next to it as
  ``@pytest.mark.points(P)``; an exercise's test functions sum to its points (the course's
  ``points``, or its own; 10 in the built-in course; ``grade check-course`` checks the sum).
- A parametrised function's points are split over its cases (its
  parametrisations: shapes, dtypes, ...) in whole hundredths of a point: each
  case gets ``P / n`` rounded down to a hundredth, and the first ``r`` cases
  (in parametrisation order) one hundredth more, ``r`` being what is left over
  (``split``).  So every test's points, every score and every total is a whole
  number of hundredths, and a function's cases add up to exactly its points,
  an exercise's tests to exactly 10, in every format.  A case passes or earns
  nothing.
- The device is not a case.  A test that takes a ``device`` argument runs once
  per device the machine has (the CPU, then the GPU where CUDA exists), on the
  same inputs, inside the same test: it passes only if it passes on every device
  it ran on.  So a test's ``max_score`` is the same on every machine and for
  every submission, and so is an exercise's.
- A test the grader could not run (it skipped itself for a reason of the
  grader's, never one the submission controls: code that cannot run on the
  meta device fails the device test) keeps its points: it is not held against
  the student.

``grade --points`` prints the table.
"""

from __future__ import annotations

import hashlib
import math

POINTS_MARK = "points"


def derive_seed(seed: int, text: str) -> int:
    """The seed of one test (``text``: its id) in a run seeded with ``seed``: the ``rng``
    fixture's, the same on every device the test runs on."""
    return int.from_bytes(hashlib.sha256(f"{seed}|{text}".encode()).digest()[:6], "big")


def _marks(fn) -> list:
    return list(getattr(fn, "pytestmark", None) or [])


def function_points(fn) -> float | None:
    """The points written next to a test function, or None."""
    marks = [m for m in _marks(fn) if m.name == POINTS_MARK]
    return float(marks[0].args[0]) if marks else None


def cases(marks) -> int:
    """How many parametrisations the ``parametrize`` marks make."""
    return math.prod(len(m.args[1]) for m in marks if m.name == "parametrize" and len(m.args) > 1)


def split(points: float, n: int) -> list:
    """``points`` over ``n`` cases in whole hundredths, adding up to exactly ``points``:
    ``split(1, 3) == [0.34, 0.33, 0.33]``, ``split(3.5, 8) == [0.44] * 6 + [0.43] * 2``."""
    n = max(1, n)
    base, extra = divmod(round(points * 100), n)
    return [(base + (k < extra)) / 100 for k in range(n)]


def _case_values(value, names: list) -> tuple:
    """A ``parametrize`` value as the tuple of its arguments (``pytest.param`` unwrapped)."""
    if type(value).__name__ == "ParameterSet":
        return tuple(value.values)
    return tuple(value) if len(names) > 1 else (value,)


def case_index(item) -> int:
    """The item's position (0 to cases - 1) among its function's parametrisations: for each
    ``parametrize`` mark, the position in its list of the values the item got (the same
    object), read as the digits of a mixed-radix number.  It does not depend on which of
    the function's cases were collected or selected."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return 0
    k = 0
    for m in item.iter_markers("parametrize"):
        if len(m.args) < 2:
            continue
        names = m.args[0]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        values = [_case_values(v, names) for v in m.args[1]]
        got = tuple(callspec.params.get(n) for n in names)
        idx = next((i for i, v in enumerate(values) if all(a is b for a, b in zip(v, got))), None)
        if idx is None:
            idx = next((i for i, v in enumerate(values) if v == got), 0)
        k = k * len(values) + idx
    return k


def item_points(item) -> float:
    """One collected test's share of its function's points (``split``)."""
    mark = item.get_closest_marker(POINTS_MARK)
    if mark is None:
        return 0.0
    n = max(1, cases(list(item.iter_markers("parametrize"))))
    return split(float(mark.args[0]), n)[case_index(item) % n]


def run_on_devices(pyfuncitem, rec, seed: int):
    """Run a test that takes ``device`` once per device, the same inputs each time (the
    ``rng`` fixture reseeded, the student's trace started afresh for a reproducer of the
    run that fails); None (pytest calls the test as usual) for other tests.  ``rec`` (the
    test's ``TestRecord``) gets ``devices`` (when more than one) and ``failed_on`` (the label that failed)."""
    funcargs = pyfuncitem.funcargs
    if "device" not in funcargs:
        return None
    from grader.verdicts.devices import devices

    args = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    test_id = pyfuncitem.nodeid.split("::", 1)[-1]
    every = devices()
    if len(every) > 1:
        rec.devices = [label for label, _ in every]
    for k, (label, device) in enumerate(every):
        if k:
            if "rng" in args:
                args["rng"].manual_seed(derive_seed(seed, test_id))
            if "student" in args:
                args["student"].begin_test(test_id, trace=rec.visible)
        rec.failed_on = label
        pyfuncitem.obj(**dict(args, device=device))
    rec.failed_on = None
    return True


def suite_module(exercise):
    """The hidden suite of ``exercise`` as a module: the built-in course's from grader.suites, another
    course's from its file (grader.course)."""
    import importlib.util
    import sys

    from grader.course import current

    course = current()
    if course.builtin:
        return importlib.import_module(f"grader.suites.{exercise.suite.removesuffix('.py')}")
    path = course.suite_path(exercise)
    name = path.stem
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def table(exercises) -> list:
    """[(exercise, test function, points, cases, every device?, description, visible?)] in suite order."""
    import inspect

    rows = []
    for ex in exercises:
        module = suite_module(ex)
        for name, fn in vars(module).items():
            if not (name.startswith("test_") and callable(fn)):
                continue
            doc = (fn.__doc__ or "").strip().splitlines()
            on_devices = "device" in inspect.signature(fn).parameters
            visible = any(m.name == "visible" for m in _marks(fn))
            description = doc[0].strip() if doc else ""
            rows.append((ex, name, function_points(fn), cases(_marks(fn)), on_devices, description, visible))
    return rows


def render_table(exercises) -> str:
    from grader.edition import EDITION

    if EDITION == "student":
        return _student_table(exercises)
    else:
        sums = sorted({f"{ex.points:g}" for ex in exercises})
        lines = [
            f"Points per test function (an exercise's sum to {sums[0] if len(sums) == 1 else 'its points'}). A "
            "parametrised test's points are split",
            "over its cases in whole hundredths (the first cases get the hundredths left over: 3.50 over 8",
            "cases is 6 x 0.44 + 2 x 0.43); a test that takes a device runs on the CPU and, where CUDA exists,",
            "on the GPU too, and passes only if it passes on both: the same points on every machine.",
            "A test marked visible is in the student edition (grade release): students see its inputs.",
            "",
        ]
    by_ex: dict = {}
    for row in table(exercises):
        by_ex.setdefault(row[0], []).append(row)
    for ex, rows in by_ex.items():
        total = sum(r[2] or 0 for r in rows)
        lines.append(f"{ex.name}  {ex.title}  ({total:g} points)")
        lines.append(f"  {'points':>6} {'test':<38} {'cases':<9} {'devices':<8} {'shown':<8} what it checks")
        for _, name, pts, n, on_devices, doc, visible in rows:
            each = f"{n} cases" if n > 1 else ""
            where = "CPU+GPU" if on_devices else "CPU"
            shown = "visible" if visible else ""
            lines.append(f"  {pts if pts is not None else 0:5.2f}  {name:<38} {each:<9} {where:<8} {shown:<8} {doc}")
        lines.append("")
    return "\n".join(lines)


def _student_table(exercises) -> str:
    """The student edition's --points: the checks it runs, and no points (the hidden tests decide the grade)."""
    lines = [
        "Checks this student edition runs: the visible tests (and checks that need no answer).",
        "They give no points: the hidden tests, run when you submit, decide the grade.",
        "",
    ]
    by_ex: dict = {}
    for row in table(exercises):
        by_ex.setdefault(row[0], []).append(row)
    for ex, rows in by_ex.items():
        lines.append(f"{ex.name}  {ex.title}")
        lines.append(f"  {'test':<38} {'cases':<9} {'devices':<8} what it checks")
        for _, name, _pts, n, on_devices, doc, _visible in rows:
            each = f"{n} cases" if n > 1 else ""
            where = "CPU+GPU" if on_devices else "CPU"
            lines.append(f"  {name:<38} {each:<9} {where:<8} {doc}".rstrip())
        lines.append("")
    return "\n".join(lines)
