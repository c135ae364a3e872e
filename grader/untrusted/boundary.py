"""The trust boundary as rules on module names (a leaf: the standard library only).

Two rules, each over whole packages, so that a module added later to a covered
package is covered without anyone listing it:

* ``worker_may_import``: what a worker (and so the student's code) may import of
  the course: ``grader`` itself, the wire (``grader.wire``), ``grader.errors``,
  ``grader.settings`` (the declared environment variables, which the zygote reads) and
  ``grader.untrusted``.  Every other module of ``grader``,
  and ``reference`` and ``solutions``, is refused (``Blocker``) and, where the
  worker was forked from the grader, dropped from ``sys.modules`` first
  (``seal``): the same submission meets the same refusal however its worker
  was started.
* ``secrets_loaded``: the modules that hold answers or make verdicts
  (``SECRET_PACKAGES``) loaded in this process.  The zygote is forked from the
  grader only while there is none (``grader.untrusted.startup.fork_zygote``): the
  grader's side of the wire imports none of them (the verdict rules are handed to it,
  the layers contract in pyproject.toml keeps it so).
"""

from __future__ import annotations

import sys

# the course's modules a worker is built from (packages: with everything below them)
WORKER_MODULES = ("grader", "grader.errors", "grader.settings")
WORKER_PACKAGES = ("grader.untrusted", "grader.wire")
# top-level names of the course's private trees beside ``grader``
COURSE_ROOTS = ("grader", "reference", "solutions")

# the packages that hold answers or make verdicts: none of them in a forked zygote's memory
SECRET_PACKAGES = (
    "reference",
    "solutions",
    "grader.suites",
    "grader.harness",
    "grader.verdicts",
    "grader.feedback",
    "grader.batch",
    "grader.formats",
)

REFUSAL = "{} is not available to submissions"


def within(name: str, packages) -> bool:
    """Whether module ``name`` is one of ``packages`` or inside one."""
    return any(name == p or name.startswith(p + ".") for p in packages)


def worker_may_import(name: str) -> bool:
    """Whether a worker may import module ``name`` (anything outside the course may)."""
    if name.split(".", 1)[0] not in COURSE_ROOTS:
        return True
    return name in WORKER_MODULES or within(name, WORKER_PACKAGES)


def secrets_loaded(modules=None) -> list:
    """The modules holding answers or making verdicts that are loaded (in ``modules``,
    by default this process's, where a module loaded from the course folder GRADER_COURSE
    names, a suite or a reference of its, counts too)."""
    names = sys.modules if modules is None else modules
    found = [m for m in names if within(m, SECRET_PACKAGES)]
    if modules is None:
        found += [m for m, mod in list(sys.modules.items()) if m not in found and _in_course(mod)]
    return sorted(found)


def _in_course(module) -> bool:
    """Whether ``module`` was loaded from a file in the course folder GRADER_COURSE names."""
    import os

    from grader import settings

    course = str(settings.COURSE.value() or "").strip()
    where = getattr(module, "__file__", None)
    if not course or not isinstance(where, str):
        return False
    course = os.path.realpath(course)
    folder = os.path.dirname(course) if course.endswith(".toml") else course
    return os.path.realpath(where).startswith(folder.rstrip("/") + "/")


class Blocker:
    """A ``sys.meta_path`` finder, first in line, refusing the course's own modules."""

    def find_spec(self, name, path=None, target=None):
        if not worker_may_import(name):
            raise ImportError(REFUSAL.format(name))
        return None


class _Recorder:
    """A ``sys.meta_path`` finder, first in line in a zygote: notes each course module
    imported after ``plan_seal`` (and lets the import go on)."""

    def __init__(self):
        self.names: list = []

    def find_spec(self, name, path=None, target=None):
        if not worker_may_import(name):
            self.names.append(name)
        return None


_plan: tuple | None = None  # (the modules a worker forgets, the _Recorder of later imports)


def plan_seal() -> None:
    """In a zygote, once its modules are loaded: note which ones a worker must forget,
    and from now on each course module imported, so that ``seal`` in a forked worker
    need not read every name in ``sys.modules``.  (Reading them writes to their
    reference counts: about 1,200 pages of the zygote's memory copied in each worker,
    5 ms of CPU, a seventh of a short worker's life.)"""
    global _plan
    if _plan is not None and _plan[1] in sys.meta_path:
        sys.meta_path.remove(_plan[1])
    _plan = (tuple(m for m in sys.modules if not worker_may_import(m)), _Recorder())
    sys.meta_path.insert(0, _plan[1])


def seal() -> None:
    """In a worker, before the student's code: refuse the course's modules to later
    imports and forget those already loaded (a zygote forked from the grader holds some):
    those of the zygote's plan and those imported since, or, without a plan, every one."""
    if _plan is None:
        gone = [m for m in sys.modules if not worker_may_import(m)]
    else:
        gone = [*_plan[0], *_plan[1].names]
        if _plan[1] in sys.meta_path:
            sys.meta_path.remove(_plan[1])
    for name in gone:
        if sys.modules.pop(name, None) is None:
            continue
        parent, _, child = name.rpartition(".")
        if parent in sys.modules and getattr(sys.modules[parent], child, None) is not None:
            try:
                delattr(sys.modules[parent], child)
            except AttributeError:
                pass
    sys.meta_path.insert(0, Blocker())
