"""The forbidden-call and integrity rules, as the one object a ``Session`` applies.

The transport (``grader.transport.session``) runs the student's code; the verdicts decide
what it may do.  So that the machinery never imports the rules (nor the rules the
machinery), the harness hands a ``Rules`` to each ``Student`` and the session calls it:
``grader.transport.session.Rules`` states what it calls.
"""

from __future__ import annotations

from pathlib import Path

from grader.verdicts import forbidden, integrity


class Rules:
    """``grader.verdicts.forbidden`` and ``grader.verdicts.integrity``, for one session."""

    def worker_spec(self, exercise) -> dict | None:
        """What the worker watches for at run time (the exercise's forbidden calls)."""
        return forbidden.worker_spec(exercise)

    def allowed_imports(self) -> tuple:
        """The modules a student's code may import (the course's import list)."""
        return forbidden.allowed_imports()

    def imports_hint(self) -> str:
        """What a student may import, in words (for a failed import)."""
        return forbidden.imports_hint()

    def static_scans(self, source: Path, exercise, file: str) -> tuple:
        """(the forbidden names the file uses, the integrity scan's findings, what an
        instructor should review) for the exercise's part of ``source``."""
        forbidden_static = forbidden.scan(source, exercise)
        notes = forbidden.scan_all(source, exercise)[1]
        findings, more = integrity.scan(source, exercise)
        kinds = {n["kind"] for n in notes}
        review = integrity.review_entries(findings, file) + notes + [n for n in more if n["kind"] not in kinds]
        return forbidden_static, findings, review

    def static_error(self, exercise, findings: list, file: str):
        return forbidden.static_error(exercise, findings, file)

    def dynamic_error(self, exercise, what: str, calls: list):
        return forbidden.dynamic_error(exercise, what, calls)

    def integrity_error(self, exercise, findings: list, file: str):
        return integrity.error(exercise, findings, file)

    def tampered_error(self, what: str):
        return integrity.tampered_error(what)

    def tampered_review(self, what: str, file: str) -> list:
        return integrity.tampered_review(what, file)
