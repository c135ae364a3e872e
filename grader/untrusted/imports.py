"""The course's list of imports, enforced in the worker for the student's own file.

``grader/verdicts/imports.toml`` declares what the students' code may import: the Python
standard library and the packages it lists.  The grader sends that list with the load
request; here ``__import__`` refuses any other top-level module that the student's file imports
itself (at load or in a call), whether or not the machine has it installed (or loaded): the same submission meets the same verdict on every machine.  Imports made by
torch or the standard library on their own behalf are not the student's and pass.
"""

from __future__ import annotations

import sys

MARK = "is not on the course's list of imports"


def message(name: str, allowed) -> str:
    return f"No module named {name!r}: {name} {MARK} (the Python standard library and {', '.join(allowed)})"


def install(path: str, allowed) -> None:
    """Enforce ``allowed`` (top-level package names) for the import statements of the file ``path``:
    ``__import__`` is given the importing module's globals, so the student's own imports (at the
    top of the file or inside a function) are told from torch's, even of a module already loaded."""
    if allowed is None:
        return
    import builtins

    allowed = tuple(allowed)
    # the course's own trees are the boundary's to refuse, with its own words (grader.untrusted.boundary)
    ok = (
        frozenset(allowed)
        | frozenset(getattr(sys, "stdlib_module_names", ()))
        | {"__future__", "grader", "reference", "solutions"}
    )
    original = builtins.__import__

    def course_import(name, globals=None, locals=None, fromlist=(), level=0):
        # C code (torch's `tensor.numpy()`, say) imports through PyImport_Import, which passes the
        # running frame's globals, so a call from the student's function looks like the student's;
        # its own signature tells it apart: the globals again as locals, and a list as fromlist
        # (an import statement passes None or a tuple)
        by_c_code = isinstance(fromlist, list) and locals is globals
        if level == 0 and not by_c_code and isinstance(globals, dict) and globals.get("__file__") == path:
            top = str(name).partition(".")[0]
            if top not in ok:
                raise ModuleNotFoundError(message(top, allowed), name=name)
        return original(name, globals, locals, fromlist, level)

    builtins.__import__ = course_import
