"""The pytest plugin that runs the hidden suites and records the verdicts.

It gives the suites their fixtures (``student``: the submission's file for
that suite's exercise, behind the trust boundary; ``rng``: a generator seeded
from the run's seed and the test's id) and turns each test's outcome into a
plain record: status, points (grader.harness.points), message and hint.  Nothing from a test's source
or traceback reaches a record unless ``debug`` is on.

A failed test marked ``visible`` (its input may be shown in full) ends its
message with a reproducer (``reproducer``): a short script that repeats the
failing call on the student's machine.  Hidden tests never get one.
"""
from __future__ import annotations

import hashlib
import inspect
import keyword
import re
import struct
import traceback
from pathlib import Path

import pytest
import torch

from grader.verdicts.checks import Failure, dtype_str
from grader.exercises import for_suite
from grader.harness.points import item_points, run_on_devices
from grader.errors import ErrorKind
from grader.transport.limits import Spend
from grader.transport.student import Call, Handle, Ref, Student, StudentError


def derive_seed(seed: int, text: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}|{text}".encode()).digest()[:6], "big")


def _doc(item) -> str:
    fn = getattr(item, "function", None)
    doc = (getattr(fn, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


_PLUGIN = pytest.StashKey()


class GraderPlugin:
    def __init__(self, submission: Path, zygote, limits, seed: int, tmproot: Path,
                 debug: bool = False, progress=None):
        self.submission = Path(submission)
        self.zygote = zygote
        self.limits = limits
        self.seed = seed
        self.tmproot = Path(tmproot)
        self.debug = debug
        self.progress = progress
        self.records: dict = {}
        self.exercise_info: dict = {}
        self.collect_errors: list = []
        self._static: dict = {}
        self.spend = Spend()

    def start_job(self, submission: Path, zygote, seed: int, tmproot: Path) -> None:
        """Forget the last submission's verdicts; the next run grades this one."""
        self.submission = Path(submission)
        self.zygote = zygote
        self.seed = seed
        self.tmproot = Path(tmproot)
        self.records = {}
        self.exercise_info = {}
        self.spend = Spend()  # what this submission has cost, all exercises together

    def record(self, item) -> dict:
        """The item's record in this job (what it is, from a cache kept across jobs)."""
        rec = self.records.get(item.nodeid)
        if rec is None:
            static = self._static.get(item.nodeid)
            if static is None:
                static = self._static[item.nodeid] = {
                    "exercise": for_suite(item.path.name).name, "name": item.name,
                    "description": _doc(item), "points": item_points(item),
                    "visible": item.get_closest_marker("visible") is not None}
            rec = self.records[item.nodeid] = dict(static, status="passed", message="", hint="")
        return rec

    def record_skipped(self, item, reason: str) -> None:
        """A test known to be skipped before it runs (a skipif(True) marker)."""
        self.record(item).update(status="skipped", message=reason)

    # -- fixtures ------------------------------------------------------------------
    # A fixture wider than a function must not be a bound method (deprecated by pytest 9.1):
    # this one is static and finds its plugin in the config's stash.
    @pytest.fixture(scope="module")
    @staticmethod
    def _student_session(request):
        self = request.config.stash[_PLUGIN]
        ex = for_suite(Path(request.module.__file__).name)
        s = Student(ex, self.submission, self.zygote, self.limits, self.tmproot / ex.name, self.seed,
                    self.spend)
        if self.progress:
            self.progress("start", ex)
        yield s
        s.close()
        info = {"elapsed": round(s.elapsed, 3), "restarts": max(0, s.restarts - 1), "timeouts": s.timeouts}
        if s.review:  # what the integrity scan flagged, what the scans could not walk
            info["review"] = list(s.review)
        if s.load_error is not None:
            info["status"] = "missing" if s.load_error.kind == ErrorKind.MISSING_FILE else "load_error"
            info["message"] = s.load_error.message
            info["hint"] = s.load_error.hint
        self.exercise_info[ex.name] = info
        if self.progress:
            self.progress("done", ex)

    @pytest.fixture
    def student(self, _student_session, request) -> Student:
        # only a visible test's requests are kept: nothing else ever gets a reproducer
        _student_session.begin_test(request.node.nodeid.split("::", 1)[-1],
                                    trace=self.record(request.node)["visible"])
        return _student_session

    @pytest.fixture
    def rng(self, request) -> torch.Generator:
        g = torch.Generator()
        g.manual_seed(derive_seed(self.seed, request.node.nodeid.split("::", 1)[-1]))
        return g

    @pytest.fixture
    def device(self) -> str:
        return "cpu"  # and then each other device: see pytest_pyfunc_call

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem):
        """A test that takes ``device`` runs once per device (grader.suites.common.devices),
        on the same inputs: one verdict, failed if it fails on any of them."""
        return run_on_devices(pyfuncitem, self.record(pyfuncitem), self.seed)

    # -- hooks -------------------------------------------------------------------------
    def pytest_configure(self, config):
        config.stash[_PLUGIN] = self
        config.addinivalue_line("markers", "points(p): this test function's points (an exercise's sum to 10)")
        config.addinivalue_line("markers", "visible: a test whose input the student may see in full")

    def pytest_collectreport(self, report):
        if report.failed:
            self.collect_errors.append((report.nodeid, str(report.longrepr)))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        rec = self.record(item)
        if rep.skipped:
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
            rec.update(status="skipped", message=reason.removeprefix("Skipped: "))
            return
        if rep.passed or rec["status"] != "passed":
            return
        if call.when == "teardown":
            return
        exc = call.excinfo.value if call.excinfo else None
        if isinstance(exc, Failure):
            rec.update(status="failed", message=exc.message, hint=exc.hint or "")
        elif isinstance(exc, StudentError):
            status = "error" if exc.kind in StudentError.RUN_KINDS else "failed"
            rec.update(status=status, message=exc.message, hint=exc.hint or "", kind=exc.kind)
        else:
            name = type(exc).__name__ if exc else "error"
            rec.update(status="error", kind=ErrorKind.INTERNAL,
                       message=f"internal grader error ({name}); this is not your fault, please report it",
                       hint="")
            if self.debug and call.excinfo is not None:
                rec["trace"] = "".join(traceback.format_exception(call.excinfo.value))
        if rec.get("failed_on", "cpu") != "cpu" and call.when == "call":  # right on the CPU, wrong on the GPU
            rec["message"] = f"on the GPU ({rec['failed_on']}): {rec['message']}"
        if rec["visible"] and rec["status"] == "failed" and call.when == "call":
            self._add_reproducer(item, rec, exc)

    def _add_reproducer(self, item, rec, exc) -> None:
        """Give a failed visible test its reproducer, when there is one."""
        student = (getattr(item, "funcargs", None) or {}).get("student")
        if isinstance(student, Student) and student.test_id == item.nodeid.split("::", 1)[-1]:
            try:
                code = reproducer(student.trace, exc, Path(student.file).stem)
            except Exception:  # a reproducer is a courtesy: never let it cost the verdict
                if self.debug:
                    raise
                code = None
            if code:
                rec["reproducer"] = code


# ---------------------------------------------------------------------------
# reproducers for visible tests

REPRO_ENTRIES = 64  # at most this many input entries in all, and as many expected; more: no reproducer


class _NoReproducer(Exception):
    """The test's calls cannot be shown faithfully in a short script."""


def reproducer(trace, exc, module: str) -> str | None:
    """A short script that repeats a failed test's failing call on the student's
    machine: the inputs as literals, the calls, and the expected value as a
    comment; None where that cannot be done faithfully and briefly.

    ``trace`` is ``Student.trace`` (what the test sent, with copies of its small
    tensors); ``exc`` the test's ``Failure`` (whose ``got`` names the failing call
    and whose ``expected`` is shown) or ``StudentError`` (the student's code raised);
    ``module`` the student's module (``exercise1_softmax``).
    """
    target = _target(trace, exc) if trace else None
    if target is None:
        return None
    try:
        return _Script(trace, module).render(*target)
    except _NoReproducer:
        return None


def _with_expected(exc):
    """The Failure with an expected value behind ``exc``: a suite may re-raise the
    same message with a sharper hint (the original is then its ``__context__``)."""
    message = getattr(exc, "message", None)
    for _ in range(8):
        if not isinstance(exc, Failure) or exc.message != message:
            return None
        if exc.expected is not None:
            return exc
        exc = exc.__context__
    return None


def _target(trace, exc):
    """(index of the failing request, what of it failed, expected) or None."""
    if isinstance(exc, Failure) and exc.expected is None and isinstance(exc.__context__, StudentError) \
            and exc.message.startswith(exc.__context__.message):
        exc = exc.__context__  # the suite explains the student's exception further
    if isinstance(exc, StudentError):
        request = exc.details.get("request")
        at = [i for i, rec in enumerate(trace) if rec is request]
        if exc.kind == ErrorKind.EXCEPTION and at and request["op"] in ("call", "getattr", "vjp"):
            return at[0], ("raised",), None
        return None
    f = _with_expected(exc)
    if f is None:
        return None
    got = f.got
    if not isinstance(got, torch.Tensor):  # None, a list, ...: only the latest reply can be told by identity
        done = [i for i, rec in enumerate(trace) if rec.get("done")]
        if done and trace[done[-1]].get("value") is got and trace[done[-1]]["op"] != "inspect":
            return done[-1], ("value",), f.expected
        return None
    for i in range(len(trace) - 1, -1, -1):
        rec = trace[i]
        if not rec.get("done"):
            continue
        if rec.get("value") is got:
            return i, ("value",), f.expected
        for j, v in enumerate(rec.get("args_after") or ()):
            if v is got:
                return i, ("arg", j), f.expected
        for j, v in enumerate(rec.get("grads") or ()):
            if v is got:
                return i, ("grad", j), f.expected
        for name, v in (rec.get("param_grads") or {}).items():
            if v is got:
                return i, ("param_grad", name), f.expected
        if rec["op"] == "inspect" and isinstance(rec.get("value"), dict):
            for entry in rec["value"].get("params") or ():
                if isinstance(entry, (list, tuple)) and len(entry) == 3 and entry[1] is got:
                    return i, ("param", entry[0]), f.expected
    return None


def _handle_ids(value, depth: int = 0) -> set:
    """The ids of the worker objects ``value`` refers to."""
    if isinstance(value, Handle):
        return {value.id}
    if isinstance(value, Ref):
        return {value.parts[1]} if value.parts[:1] == ("handle",) and len(value.parts) > 1 else set()
    if isinstance(value, Call) and depth < 8:
        return _handle_ids([value.fn, value.args, value.kwargs], depth + 1)
    if isinstance(value, (list, tuple)) and depth < 8:
        return set().union(*(_handle_ids(v, depth + 1) for v in value)) if value else set()
    if isinstance(value, dict) and depth < 8:
        return _handle_ids(list(value.values()), depth + 1)
    return set()


def _holds_tensor(value, depth: int = 0) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, (list, tuple)) and depth < 8 and any(_holds_tensor(v, depth + 1) for v in value)


WRITES = ("copy_", "fill_", "zero_")  # methods that set a tensor's values from the test's data


def _reads_random_state(trace) -> bool:
    """Whether the test read tensors back from the worker that may still hold a
    constructor's random values (so that its expected value may depend on them and
    a reproducer must seed torch as the worker did).  What the test itself set
    (``copy_``, ``setattr``, ``load_state_dict``) does not count: a layer whose
    weight and bias the test set needs no seed."""
    param_of: dict = {}  # (object id, dotted name) → the parameter's object id
    written, reads = set(), []
    for rec in trace:
        if not rec.get("done"):
            continue
        op, value, fn = rec["op"], rec.get("value"), rec.get("fn")
        owner = rec["obj"].id if isinstance(rec.get("obj"), Handle) else None
        if op == "inspect" and isinstance(value, dict):
            if value.get("buffers"):
                return True
            for entry in value.get("params") or ():
                if not (isinstance(entry, (list, tuple)) and len(entry) == 3 and isinstance(entry[2], Handle)):
                    return True
                param_of[(owner, entry[0])] = entry[2].id
                reads.append(entry[2].id)
        elif op == "getattr" and _holds_tensor(value):
            reads.append((owner, rec["name"]))
        elif op == "setattr":
            written.add((owner, rec["name"]))
        elif isinstance(fn, Ref) and fn.parts[:1] == ("handle",) and fn.parts[-1] in WRITES + ("load_state_dict",):
            path = ".".join(str(p) for p in fn.parts[2:-1])
            if fn.parts[-1] != "load_state_dict":
                written.add((fn.parts[1], path) if path else fn.parts[1])
            elif not path and rec.get("args") and isinstance(rec["args"][0], dict):
                written.update((fn.parts[1], key) for key in rec["args"][0])
        elif op in ("call", "vjp") and not _stateless(rec) and _holds_tensor(
                [value, rec.get("grads"), rec.get("param_grads")]):
            return True  # the output of an object's method: it may depend on anything in it
    written |= {param_of[key] for key in written if key in param_of}
    return any(r not in written and param_of.get(r) not in written for r in reads)


def _sent(rec) -> list:
    """What a request sent that may name worker objects."""
    return [rec.get(k) for k in ("fn", "obj", "args", "kwargs", "value", "params", "grad_output")
            if k in rec and not (k == "value" and rec["op"] != "setattr")]


def _stateless(rec) -> bool:
    """A call of a module-level function or class on plain data that made no object:
    it leaves nothing behind that a later call could see."""
    fn = rec.get("fn")
    return (rec["op"] == "call" and isinstance(fn, Ref) and fn.parts[:1] in (("student",), ("torch",))
            and not _handle_ids([rec.get("args"), rec.get("kwargs"), rec.get("params")])
            and not isinstance(rec.get("value"), Handle))


def _identifier(text: str, default: str) -> str:
    name = re.sub(r"\W", "_", str(text).rsplit(".", 1)[-1]).strip("_")
    if not name or not name.isidentifier() or keyword.iskeyword(name) or name == "torch":
        return default
    return name


def _float(v: float, dtype: torch.dtype) -> str:
    if v != v:
        return "float('nan')"
    if v in (float("inf"), float("-inf")):
        return "float('inf')" if v > 0 else "-float('inf')"
    if dtype == torch.float32:  # the shortest decimal that gives the same float32
        for digits in range(1, 10):
            short = float(f"{v:.{digits}g}")
            try:
                if struct.unpack("f", struct.pack("f", short))[0] == v:
                    return repr(short)
            except OverflowError:  # rounded up past float32's largest value
                continue
    return repr(v)


def _nested(values, fmt) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v, fmt) for v in values) + "]"
    return fmt(values)


def _tensor_literal(t: torch.Tensor, requires_grad: bool, indent: int) -> str:
    t = t.detach()
    dtype = t.dtype
    if dtype.is_complex:
        raise _NoReproducer
    options = [] if dtype in (torch.float32, torch.int64, torch.bool) else [f"dtype=torch.{dtype_str(dtype)}"]
    if t.device.type != "cpu":
        options.append(f"device={t.device.type!r}")
    if requires_grad:
        options.append("requires_grad=True")
    tail = "".join(", " + o for o in options) + ")"
    if t.numel() == 0:
        options = [f"dtype=torch.{dtype_str(dtype)}"] + [o for o in options if not o.startswith("dtype")]
        return f"torch.empty({tuple(t.shape)!r}, {', '.join(options)})"
    if dtype.is_floating_point:
        fmt = lambda v: _float(v, dtype)  # noqa: E731
    else:
        fmt = str
    values = t.cpu().tolist()
    text = "torch.tensor(" + _nested(values, fmt) + tail
    if t.dim() >= 2 and indent + len(text) > 88:  # one row of the first dimension a line
        pad = " " * (indent + len("torch.tensor(["))
        rows = [_nested(row, fmt) for row in values]
        text = "torch.tensor([" + (",\n" + pad).join(rows) + "]" + tail
    return text


class _Script:
    """Turns the requests of a test into Python that does the same."""

    def __init__(self, trace, module: str):
        self.trace = trace
        self.module = module
        self.imports: list = []  # names from the student's module
        self.lines: list = []
        self.names: set = set()
        self.handles: dict = {}  # worker object id → variable
        self.kinds: dict = {}    # worker object id → the reference class it was made from (for argument names)
        self.entries = 0
        self.rec = None
        self.sent: dict = {}     # tensor id → its variable, in the latest call
        self.pending: list = []  # tensor literals for the next statement
        self.block = None        # the line of the open `with torch.no_grad():`, if any

    # -- the script ------------------------------------------------------------
    def render(self, i: int, what: tuple, expected) -> str:
        target = self.trace[i]
        self.seeded = _reads_random_state(self.trace[:i])
        used = [_handle_ids(_sent(r)) for r in self.trace[: i + 1]]
        for k, rec in enumerate(self.trace[:i]):
            later = set().union(*used[k + 1:])
            self._statement(rec, later)
        self._final(target, what, expected)
        head = ["import torch"]
        if self.imports:
            head.append(f"from {self.module} import {', '.join(dict.fromkeys(self.imports))}")
        code = "\n".join(head + [""] + self.lines)
        compile(code, "<reproducer>", "exec")
        return code

    def _emit(self, line: str, no_grad: bool = False) -> None:
        """Add a statement, after the tensors it uses; consecutive statements under
        torch.no_grad() share one block (the tensors' lines move above it)."""
        if no_grad:
            line = "    " + line.replace("\n", "\n    ")
            if self.block is not None:
                self.lines[self.block:self.block] = self.pending
                self.block += len(self.pending)
            else:
                self.lines += self.pending
                self.block = len(self.lines)
                self.lines.append("with torch.no_grad():")
        else:
            self.lines += self.pending
            self.block = None
        self.pending = []
        self.lines.append(line)

    def _name(self, base: str) -> str:
        name, n = base, 2
        while name in self.names or name in self.imports:
            name, n = f"{base}{n}", n + 1
        self.names.add(name)
        return name

    # -- one request --------------------------------------------------------------
    def _statement(self, rec, later: set) -> None:
        op = rec["op"]
        if op == "inspect":
            for entry in ((rec.get("value") or {}).get("params") or []) if rec.get("done") else ():
                if isinstance(entry, (list, tuple)) and len(entry) == 3 and isinstance(entry[2], Handle):
                    self._source(entry[2].id, rec["obj"], entry[0], "param", later)
            return
        if op == "getattr":
            if rec.get("done") and isinstance(rec.get("value"), Handle):
                self._source(rec["value"].id, rec["obj"], rec["name"], "attr", later)
            return
        if op in ("vjp", "vjps") or (op == "call" and _stateless(rec)):
            return  # nothing a later call can see
        if not rec.get("done"):
            raise _NoReproducer  # it raised half-way: its effects are unknown
        self.rec = rec
        if op == "setattr":
            value = self._value(rec["value"], depth=1)  # inline: `weight.grad = torch.tensor(...)`
            self._emit(f"{self._value(rec['obj'])}.{self._attr(rec['name'])} = {value}")
            return
        expr = self._call(rec)
        value = rec.get("value")
        if isinstance(value, Handle) and value.id not in self.handles and value.id in later:
            if self.seeded:  # the grader seeds torch before every call
                first = not any(line.startswith("torch.manual_seed(") for line in self.lines)
                self._emit(f"torch.manual_seed({int(rec['seed'])})" + ("  # as the grader did" if first else ""))
            fn = rec["fn"]
            base = fn.parts[-1] if isinstance(fn, Ref) else "obj"
            var = self._name(_identifier(base, "obj").lower())
            self.handles[value.id] = var
            if isinstance(fn, Ref) and fn.parts[:1] == ("student",) and len(fn.parts) == 2:
                self.kinds[value.id] = fn.parts[1]
            expr = f"{var} = {expr}"
        self._emit(expr, rec.get("grad") == "no_grad")

    def _source(self, hid, owner, name, how: str, later: set) -> None:
        if hid in self.handles or hid not in later:
            return
        owner_expr = self._value(owner)
        if how == "attr":
            expr = f"{owner_expr}.{self._attr(name)}"
        else:
            expr = self._parameter(owner_expr, str(name))
        var = self._name(_identifier(name, "obj"))
        self.handles[hid] = var
        self._emit(f"{var} = {expr}")

    def _final(self, rec, what: tuple, expected) -> None:
        self.rec = rec
        op, kind = rec["op"], what[0]
        if op == "getattr" and kind in ("value", "raised"):
            shown = f"{self._value(rec['obj'])}.{self._attr(rec['name'])}"
            self._emit(f"print({shown})")
        elif op == "call" and kind in ("value", "raised"):
            self._emit(f"print({self._call(rec)})", rec.get("grad") == "no_grad")
        elif op == "call" and kind == "arg":
            arg = rec["args"][what[1]]
            self._emit(self._call(rec), rec.get("grad") == "no_grad")
            if id(arg) not in self.sent:
                raise _NoReproducer
            self._emit(f"print({self.sent[id(arg)]})  # after the call")
        elif op == "inspect" and kind == "param" and isinstance(what[1], str):
            self._emit(f"print({self._parameter(self._value(rec['obj']), what[1])})")
        elif op == "vjp" and kind == "value":
            self._emit(f"print({self._call(rec, wrt=rec.get('wrt') or ())})")
        elif op == "vjp" and kind in ("grad", "param_grad", "raised"):
            self._backward(rec, what)
        else:
            raise _NoReproducer
        if expected is None:
            self.lines.append("# expected: no error")
            return
        if type(expected) in (bool, int, float):  # a function that returns a Python number
            self.lines.append(f"# expected: {expected!r}")
            return
        if not isinstance(expected, torch.Tensor) or expected.numel() > REPRO_ENTRIES:
            raise _NoReproducer
        expected = expected.detach().cpu()
        label = "expected (unchanged):" if kind == "arg" else "expected:"
        self.lines.append("# " + label)
        self.lines.extend("# " + line for line in repr(expected).splitlines())

    def _backward(self, rec, what: tuple) -> None:
        wrt = list(rec.get("wrt") or ())
        if what[0] == "param_grad":
            if any(r["op"] == "setattr" and r.get("name") == "grad" for r in self.trace):
                raise _NoReproducer  # gradients set by hand would add up with backward's
            holder = rec.get("params")
            name = what[1]
            if not isinstance(holder, Handle) or not isinstance(name, str):
                raise _NoReproducer
            param = self._parameter(self._value(holder), name)
        elif what[0] == "grad":
            index = wrt[what[1]] if what[1] < len(wrt) else None
            if index is None or index >= len(rec["args"]):
                raise _NoReproducer
        out = self._name("out")
        self._emit(f"{out} = {self._call(rec, wrt=wrt)}")
        g = rec.get("grad_output")
        if g is None:
            self._emit(f"{out}.sum().backward()")
        else:
            self._emit(f"({out} * {self._value(g, 'grad_output')}).sum().backward()")
        if what[0] == "grad":
            self._emit(f"print({self.sent[id(rec['args'][index])]}.grad)")
        elif what[0] == "param_grad":
            self._emit(f"print({param}.grad)")
        else:  # it raised: once it does not, these are the gradients
            for k in wrt:
                if k < len(rec["args"]) and id(rec["args"][k]) in self.sent:
                    self._emit(f"print({self.sent[id(rec['args'][k])]}.grad)")

    # -- expressions ---------------------------------------------------------------
    def _call(self, rec, wrt=()) -> str:
        fn = rec["fn"]
        names = self._arg_names(fn)
        args = []
        for k, a in enumerate(rec.get("args") or ()):
            args.append(self._value(a, names[k] if k < len(names) else None, requires_grad=k in wrt))
        for key, v in (rec.get("kwargs") or {}).items():
            args.append(f"{self._attr(key)}={self._value(v, key)}")
        return f"{self._value(fn)}({', '.join(args)})"

    def _arg_names(self, fn) -> list:
        """The reference's parameter names for ``fn`` (softmax(x), Linear.forward(X), ...)."""
        import reference

        target = None
        if isinstance(fn, Ref) and fn.parts[:1] == ("student",) and len(fn.parts) >= 2:
            target = getattr(reference, fn.parts[1], None)
            if isinstance(target, type) and issubclass(target, torch.autograd.Function):
                target = target.forward
            elif len(fn.parts) > 2:
                target = None
        elif isinstance(fn, (Handle, Ref)):
            hid = fn.id if isinstance(fn, Handle) else (fn.parts[1] if len(fn.parts) == 2 else None)
            cls = getattr(reference, self.kinds.get(hid, ""), None)
            target = getattr(cls, "forward", None) if isinstance(cls, type) else None
            if isinstance(fn, Ref) and len(fn.parts) > 2 and isinstance(fn.parts[-2], str):
                return [fn.parts[-2]]  # linear.bias.copy_(bias)
        if target is None:
            return []
        try:
            params = list(inspect.signature(target).parameters.values())
        except (TypeError, ValueError):
            return []
        names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        return [n for n in names if n not in ("self", "ctx")]

    def _parameter(self, owner: str, name: str) -> str:
        """The module's parameter ``name`` ('weight', '0.weight')."""
        if name.isidentifier() and not keyword.iskeyword(name):
            return f"{owner}.{name}"
        return f"{owner}.get_parameter({name!r})"

    def _attr(self, name) -> str:
        if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)):
            raise _NoReproducer
        return name

    def _ref(self, ref: Ref) -> str:
        parts = list(ref.parts)
        root = parts.pop(0) if parts else None
        if root == "student" and parts:
            self.imports.append(self._attr(parts[0]))
            text = parts.pop(0)
        elif root == "torch":
            text = "torch"
        elif root == "handle" and parts:
            text = self._handle(parts.pop(0))
        else:
            raise _NoReproducer
        for p in parts:
            text += f"[{p}]" if type(p) is int else "." + self._attr(p)
        return text

    def _handle(self, hid) -> str:
        if hid not in self.handles:
            raise _NoReproducer  # an object the script does not know how to make
        return self.handles[hid]

    def _value(self, v, name: str | None = None, requires_grad: bool = False, depth: int = 0) -> str:
        if depth > 8:
            raise _NoReproducer
        if isinstance(v, torch.Tensor):
            return self._tensor(v, name, requires_grad, inline=depth > 0)
        if isinstance(v, Handle):
            return self._handle(v.id)
        if isinstance(v, Ref):
            return self._ref(v)
        if isinstance(v, Call):  # made in the worker as it read the request: the same call, inline
            args = [self._value(a, depth=depth + 1) for a in v.args]
            args += [f"{self._attr(k)}={self._value(x, k, depth=depth + 1)}" for k, x in v.kwargs.items()]
            return f"{self._value(v.fn, depth=depth + 1)}({', '.join(args)})"
        if v is None or type(v) in (bool, int, str):
            return repr(v)
        if type(v) is float:
            return _float(v, torch.float64)
        if isinstance(v, torch.dtype):
            return f"torch.{dtype_str(v)}"
        if isinstance(v, torch.device):
            return repr(str(v))
        if type(v) in (list, tuple):
            items = [self._value(x, name, depth=depth + 1) for x in v]
            if type(v) is tuple:
                return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
            return "[" + ", ".join(items) + "]"
        if type(v) is dict and all(type(k) is str for k in v):
            return "{" + ", ".join(f"{k!r}: {self._value(x, k, depth=depth + 1)}" for k, x in v.items()) + "}"
        raise _NoReproducer

    def _tensor(self, t: torch.Tensor, name: str | None, requires_grad: bool, inline: bool = False) -> str:
        """The tensor as it was sent: a literal inside a list, a dict or an assignment,
        else a variable (a fresh one for every use, as the worker got a fresh copy)."""
        copy = self.rec["copies"].get(id(t)) if self.rec is not None else None
        if copy is None:
            raise _NoReproducer  # too large to show (or not sent by this request)
        self.entries += copy.numel()
        if self.entries > REPRO_ENTRIES:
            raise _NoReproducer
        if inline:
            return _tensor_literal(copy, requires_grad or t.requires_grad, 8)
        var = self._name(_identifier(name or "x", "x"))
        self.sent[id(t)] = var
        literal = _tensor_literal(copy, requires_grad or t.requires_grad, len(var) + 3)
        self.pending.append(f"{var} = {literal}")
        return var
