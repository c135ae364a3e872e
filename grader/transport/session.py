"""One student's file for one exercise, run in workers: ``Session`` restarts a worker
that died, keeps the exercise within its budgets (``Limits``, the submission's ``Spend``),
applies the forbidden-call and integrity rules it is handed (``Rules``; the harness hands it
``grader.verdicts.rules.Rules``: this module never imports the verdicts) to each request, and
turns everything that can go wrong on the student's side into a ``StudentError``
(``grader.transport.explain`` words it).  ``grader.transport.student.Student`` adds the
requests the hidden tests make.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Protocol

from grader.errors import StudentError
from grader.transport import explain
from grader.transport.limits import Limits, Spend
from grader.transport.processes import Died, TimedOut, Worker, Zygote
from grader.wire.codec import Call, Ref
from grader.wire.sizes import MAX_NAME, clip


class Rules(Protocol):
    """The forbidden-call and integrity rules, as a session applies them (handed in:
    ``grader.verdicts.rules.Rules``)."""

    def worker_spec(self, exercise) -> dict | None: ...

    def allowed_imports(self) -> tuple: ...

    def imports_hint(self) -> str: ...

    def static_scans(self, source: Path, exercise, file: str) -> tuple: ...

    def static_error(self, exercise, findings: list, file: str) -> StudentError: ...

    def dynamic_error(self, exercise, what: str, calls: list) -> StudentError | None: ...

    def integrity_error(self, exercise, findings: list, file: str) -> StudentError: ...

    def tampered_error(self, what: str) -> StudentError: ...

    def tampered_review(self, what: str, file: str) -> list: ...


CPU_SLACK = 1.5  # a request may run this many seconds per CPU second its budget has left


class Session:
    """The worker life cycle, the budgets and the checked request of one exercise."""

    _integrity: list = []
    _review: list = []

    def __init__(
        self,
        exercise,
        submission: Path,
        zygote: Zygote,
        limits: Limits,
        tmproot: Path,
        seed: int = 0,
        spend: Spend | None = None,
        *,
        rules: Rules,
    ):
        self.exercise = exercise
        self.rules = rules
        self.spend = spend if spend is not None else Spend()  # the whole submission's (shared by its exercises)
        self.late_from: float | None = None  # this exercise's time spent when the submission's budget ran out
        self.late_bytes_from: int | None = None  # the submission's bytes when its data budget ran out
        self.late_cpu_from: float | None = None  # this exercise's CPU spent when the submission's CPU budget ran out
        self.cpu = 0.0  # CPU seconds of this exercise's closed workers
        self.stopped: StudentError | None = None  # a request stopped by a budget: the rest is not run
        if Path(submission).is_file():  # one .py holding every exercise: graded as each exercise's file
            self.source = Path(submission)
            self.file = self.source.name
        else:
            self.source = Path(submission) / exercise.file
            self.file = exercise.file
        self.zygote = zygote
        self.limits = limits
        self.tmproot = Path(tmproot)
        self.seed = seed
        self.worker: Worker | None = None
        self.names: dict = {}
        self.load_error: StudentError | None = None
        self.tampered: str | None = None  # the worker found the grader's hooks removed or replaced
        self.timeouts = 0
        self.elapsed = 0.0
        self.restarts = 0
        self.test_id = ""
        self.calls = 0

    def close(self) -> None:
        if self.worker is not None:
            from grader.untrusted.output import cut_bytes

            # what it printed past the cap was cut (grader.untrusted.output): the report says so
            self.output_cut = getattr(self, "output_cut", 0) + cut_bytes(self.worker.workdir / "output.txt")
            self.worker.close()  # charges its CPU not read yet
            self.elapsed += self.worker.elapsed
            self.cpu += self.worker.cpu
            self.worker = None

    # -- budgets -----------------------------------------------------------------
    def _check_budget(self) -> None:
        if self.timeouts >= self.limits.max_timeouts:
            raise explain.too_many_timeouts(self.timeouts)
        if self.stopped is not None or self._left()[0] <= 0:
            raise self._budget_error("not run")
        if self.spend.bytes > self.limits.submission_bytes:
            if self.late_bytes_from is None:
                self.late_bytes_from = self.spend.bytes
        if self.late_bytes_from is not None and self.spend.bytes > self.late_bytes_from + self.limits.late_bytes:
            raise explain.data_budget_spent(self.limits)

    def _left(self) -> tuple:
        """(seconds this exercise may still spend, which of the submission's budgets limits
        it: None, "wall" or "cpu"): the exercise's own budget, and once the whole submission
        has spent ``Limits.submission_budget`` seconds, ``late_budget`` more for this exercise;
        once it has spent ``submission_cpu`` CPU seconds, ``late_cpu`` more of CPU time."""
        spent = self.elapsed + (self.worker.elapsed if self.worker else 0.0)
        left, why = self.limits.exercise_budget - spent, None
        if self.spend.seconds >= self.limits.submission_budget:
            if self.late_from is None:
                self.late_from = spent
            late = self.late_from + self.limits.late_budget - spent
            if late < left:
                left, why = late, "wall"
        # CPU, once the submission has spent its CPU budget: this exercise's late share; a
        # request may take CPU_SLACK seconds of wall time for each second of it it has left
        if self.spend.cpu >= self.limits.submission_cpu:
            cpu = self.cpu + (self.worker.cpu if self.worker else 0.0)
            if self.late_cpu_from is None:
                self.late_cpu_from = cpu
            cpu_left = self.late_cpu_from + self.limits.late_cpu - cpu
            if cpu_left <= 0 or cpu_left * CPU_SLACK < left:
                left, why = min(cpu_left, cpu_left * CPU_SLACK), "cpu"
        return left, why

    def _budget_error(self, what: str) -> StudentError:
        return explain.time_budget_spent(what, self.limits, self._left()[1])

    def _timeout(self, timeout: float) -> tuple:
        """(the time a request may take, whether the budget, not ``timeout``, sets it)."""
        left = self._left()[0]
        return (left, True) if left < timeout else (timeout, False)

    # -- the worker ------------------------------------------------------------------
    def _output(self) -> str:
        return self.worker.output(600).strip() if self.worker else ""

    def _ensure(self) -> Worker:
        if self.tampered is not None:
            raise self.rules.tampered_error(self.tampered)
        if self.load_error is not None:
            raise self.load_error.copy()
        self._check_budget()
        if self.worker is not None and self.worker.alive:
            return self.worker
        if not self.source.is_file():
            self.load_error = explain.missing_file(self.file, self.source.parent)
            raise self.load_error
        self.close()
        self.restarts += 1
        workdir = self.tmproot / f"{self.exercise.name}-{self.restarts}"
        workdir.mkdir(parents=True, exist_ok=True)
        target = workdir / self.file
        shutil.copyfile(self.source, target)
        self.worker = Worker(self.zygote, self.limits, workdir, self.spend)
        timeout, by_budget = self._timeout(self.limits.load_timeout)
        try:
            reply = self.worker.request(
                "load",
                timeout,
                path=str(target),
                module=Path(self.exercise.file).stem,
                forbidden=self.rules.worker_spec(self.exercise),
                allowed_imports=list(self.rules.allowed_imports()),
            )
        except TimedOut as t:
            self.timeouts += 1
            if by_budget:
                self.load_error = self.stopped = self._budget_error(f"importing {self.file} was stopped")
                raise self.load_error from None
            self.load_error = explain.load_timed_out(self.file, t.seconds)
            raise self.load_error from None
        except Died as d:
            self.load_error = explain.load_died(self.file, d.status, self._output())
            raise self.load_error from None
        self._check_tampered(reply)
        if "load_error" in reply:
            self.load_error = explain.load_failed(
                reply["load_error"] if isinstance(reply["load_error"], dict) else {},
                self.file,
                imports_hint=self.rules.imports_hint,
            )
            raise self.load_error
        names = reply.get("names")
        self.names = {clip(str(n), MAX_NAME): None for n in names} if isinstance(names, (dict, list)) else {}
        return self.worker

    def _check_name(self, ref) -> None:
        self._ensure()
        if isinstance(ref, Ref) and ref.parts and ref.parts[0] == "student" and len(ref.parts) > 1:
            name = ref.parts[1]
            if name not in self.names:
                raise explain.undefined_name(self.file, name, self.names)

    # -- one request -------------------------------------------------------------------
    def _request(self, op: str, what: str, timeout: float | None = None, _record: dict | None = None, **fields) -> dict:
        worker = self._ensure()
        if not hasattr(self, "_forbidden_static"):  # names the exercise forbids, in the file itself
            self._static_scans()
        if self._forbidden_static:
            raise self.rules.static_error(self.exercise, self._forbidden_static, self.file)
        self.calls += 1
        digest = hashlib.sha256(f"{self.seed}|{self.test_id}|{self.calls}".encode()).digest()
        fields.setdefault("seed", int.from_bytes(digest[:6], "big"))
        if _record is not None:
            _record["seed"] = fields["seed"]
        timeout, by_budget = self._timeout(timeout or self.limits.call_timeout)
        try:
            reply = worker.request(op, timeout, **fields)
        except TimedOut as t:
            self.timeouts += 1
            if by_budget:
                self.stopped = self._budget_error(f"{what} was stopped")
                raise self.stopped.copy() from None
            raise explain.call_timed_out(what, t.seconds) from None
        except Died as d:
            raise explain.call_died(what, d.status, self._output()) from None
        self._check_tampered(reply)
        if worker.metas and not _holds_meta(fields):
            raise explain.meta_result(what)
        if reply.get("forbidden"):  # reported by the worker, decided here
            err = self.rules.dynamic_error(
                self.exercise, what, list(reply["forbidden"]) if isinstance(reply["forbidden"], list) else []
            )
            if err is not None:
                raise err
        if "error" in reply:
            err = explain.raised(
                reply["error"] if isinstance(reply["error"], dict) else {},
                what,
                self.file,
                self.limits.memory_bytes,
                imports_hint=self.rules.imports_hint,
            )
            if _record is not None:
                err.details["request"] = _record  # the request that raised, for a reproducer
            raise err
        if self._integrity:  # no call it made counts (a call that raised or broke a rule says so first)
            raise self.rules.integrity_error(self.exercise, self._integrity, self.file)
        if "fatal" in reply:
            raise explain.refused(reply["fatal"])
        return reply

    def _check_tampered(self, reply: dict) -> None:
        """Fail closed: the worker found the grader's hooks removed or replaced; nothing it
        sends counts any more, in this worker or a later one of this exercise."""
        if "tampered" in reply:
            self.tampered = clip(str(reply["tampered"]), 200)
            raise self.rules.tampered_error(self.tampered)

    def _static_scans(self) -> None:
        """The exercise's part of the file, read by the forbidden-call and integrity scans
        (once); what needs a human's eye goes to ``review``."""
        self._forbidden_static, self._integrity, self._review = self.rules.static_scans(
            self.source, self.exercise, self.file
        )

    @property
    def review(self) -> list:
        """For the report's "review" field: what an instructor should look at (the
        integrity scan's findings, what a scan could not walk), even when the file never loaded."""
        if not hasattr(self, "_forbidden_static") and self.source.is_file():
            self._static_scans()
        if self.tampered is not None:
            return [*self.rules.tampered_review(self.tampered, self.file), *self._review]
        return self._review


def _holds_meta(value, depth: int = 0) -> bool:
    """Whether ``value`` (what a request sends) holds a tensor on the meta device."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.device.type == "meta"
    if isinstance(value, (list, tuple)) and depth < 8:
        return any(_holds_meta(v, depth + 1) for v in value)
    if isinstance(value, dict) and depth < 8:
        return any(_holds_meta(v, depth + 1) for v in value.values())
    if isinstance(value, Call) and depth < 8:
        return _holds_meta([value.args, value.kwargs], depth + 1)
    return False
