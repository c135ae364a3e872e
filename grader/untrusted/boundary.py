"""The trust boundary as rules on module names (a leaf: the standard library only).

Two rules, each over whole packages, so that a module added later to a covered
package is covered without anyone listing it:

* ``worker_may_import``: what a worker (and so the student's code) may import of
  the course: ``grader`` itself, the wire (``grader.transport.wire``, ``.message``, ``.sizes``),
  ``grader.errors`` and ``grader.untrusted``.  Every other module of ``grader``,
  and ``reference`` and ``solutions``, is refused (``Blocker``) and, where the
  worker was forked from the grader, dropped from ``sys.modules`` first
  (``seal``): the same submission meets the same refusal however its worker
  was started.
* ``secrets_loaded``: the modules that hold answers or make verdicts
  (``SECRET_PACKAGES``) loaded in this process.  The zygote is forked from the
  grader only while there is none (``grader.untrusted.startup.fork_zygote``);
  ``PUBLIC`` names the few modules of those packages that the grader's side of
  the wire imports before it forks, which hold no answer (the forbidden-call
  and integrity rules, which every student may read, and the text caps).
"""
from __future__ import annotations

import sys

# the course's modules a worker is built from (packages: with everything below them)
WORKER_MODULES = ("grader", "grader.transport", "grader.transport.wire", "grader.transport.message",
                  "grader.transport.sizes", "grader.errors")
WORKER_PACKAGES = ("grader.untrusted",)
# top-level names of the course's private trees beside ``grader``
COURSE_ROOTS = ("grader", "reference", "solutions")

# the packages that hold answers or make verdicts: none of them in a forked zygote's memory
SECRET_PACKAGES = ("reference", "solutions", "grader.suites", "grader.harness", "grader.verdicts",
                   "grader.feedback", "grader.batch", "grader.formats")
# ... except these, which hold nothing secret and which grader.transport (the grader's side) imports
PUBLIC = ("grader.verdicts", "grader.feedback", "grader.verdicts.forbidden", "grader.verdicts.integrity",
          "grader.feedback.textsafe")

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
    by default this process's)."""
    names = sys.modules if modules is None else modules
    return sorted(m for m in names if within(m, SECRET_PACKAGES) and m not in PUBLIC)


class Blocker:
    """A ``sys.meta_path`` finder, first in line, refusing the course's own modules."""

    def find_spec(self, name, path=None, target=None):
        if not worker_may_import(name):
            raise ImportError(REFUSAL.format(name))
        return None


def seal() -> None:
    """In a worker, before the student's code: refuse the course's modules to later
    imports and forget those already loaded (a zygote forked from the grader holds some)."""
    gone = [m for m in sys.modules if not worker_may_import(m)]
    for name in gone:
        del sys.modules[name]
        parent, _, child = name.rpartition(".")
        if parent in sys.modules and getattr(sys.modules[parent], child, None) is not None:
            try:
                delattr(sys.modules[parent], child)
            except AttributeError:
                pass
    sys.meta_path.insert(0, Blocker())
