"""Reproducers for visible tests: a short script, shown with a failed visible test's
message, that repeats the failing call on the student's machine (the inputs as literals,
the calls, and the expected value as a comment).  Hidden tests never get one.

The plugin (``grader.harness.plugin``) calls ``reproducer`` with the test's trace
(``Student.trace``) and its exception.  Here: which request failed and which statements
before it the script needs; ``grader.feedback.repro_literals`` writes the values as Python."""

from __future__ import annotations

import torch

from grader.errors import ErrorKind, StudentError
from grader.feedback.repro_literals import REPRO_ENTRIES, NoReproducer, Writer, identifier
from grader.verdicts.checks import Failure
from grader.wire.codec import Call, Handle, Ref


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
    except NoReproducer:
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
    if (
        isinstance(exc, Failure)
        and exc.expected is None
        and isinstance(exc.__context__, StudentError)
        and exc.message.startswith(exc.__context__.message)
    ):
        exc = exc.__context__  # the suite explains the student's exception further
    if isinstance(exc, StudentError):
        return _raising_request(trace, exc)
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
        part = _part_holding(rec, got) if rec.get("done") else None
        if part is not None:
            return i, part, f.expected
    return None


def _raising_request(trace, exc):
    """(index of the request that raised the student's exception, ("raised",), None) or None."""
    request = exc.details.get("request")
    at = [i for i, rec in enumerate(trace) if rec is request]
    if exc.kind == ErrorKind.EXCEPTION and at and request["op"] in ("call", "getattr", "vjp"):
        return at[0], ("raised",), None
    return None


def _part_holding(rec: dict, got) -> tuple | None:
    """Which part of a finished request's record is the tensor ``got`` (by identity), or None."""
    if rec.get("value") is got:
        return ("value",)
    for kind, values in (("arg", rec.get("args_after")), ("grad", rec.get("grads"))):
        for j, v in enumerate(values or ()):
            if v is got:
                return kind, j
    for name, v in (rec.get("param_grads") or {}).items():
        if v is got:
            return "param_grad", name
    if rec["op"] == "inspect" and isinstance(rec.get("value"), dict):
        for entry in rec["value"].get("params") or ():
            if isinstance(entry, (list, tuple)) and len(entry) == 3 and entry[1] is got:
                return "param", entry[0]
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
    written: set = set()
    reads: list = []
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
        elif (
            op in ("call", "vjp")
            and not _stateless(rec)
            and _holds_tensor([value, rec.get("grads"), rec.get("param_grads")])
        ):
            return True  # the output of an object's method: it may depend on anything in it
    written |= {param_of[key] for key in written if key in param_of}
    return any(r not in written and param_of.get(r) not in written for r in reads)


def _sent(rec) -> list:
    """What a request sent that may name worker objects."""
    return [
        rec.get(k)
        for k in ("fn", "obj", "args", "kwargs", "value", "params", "grad_output")
        if k in rec and not (k == "value" and rec["op"] != "setattr")
    ]


def _stateless(rec) -> bool:
    """A call of a module-level function or class on plain data that made no object:
    it leaves nothing behind that a later call could see."""
    fn = rec.get("fn")
    return (
        rec["op"] == "call"
        and isinstance(fn, Ref)
        and fn.parts[:1] in (("student",), ("torch",))
        and not _handle_ids([rec.get("args"), rec.get("kwargs"), rec.get("params")])
        and not isinstance(rec.get("value"), Handle)
    )


class _Script(Writer):
    """Turns the requests of a test into Python that does the same."""

    # -- the script ------------------------------------------------------------
    def render(self, i: int, what: tuple, expected) -> str:
        target = self.trace[i]
        self.seeded = _reads_random_state(self.trace[:i])
        used = [_handle_ids(_sent(r)) for r in self.trace[: i + 1]]
        for k, rec in enumerate(self.trace[:i]):
            later = set().union(*used[k + 1 :])
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
                self.lines[self.block : self.block] = self.pending
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
            raise NoReproducer  # it raised half-way: its effects are unknown
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
            var = self._name(identifier(base, "obj").lower())
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
        var = self._name(identifier(name, "obj"))
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
                raise NoReproducer
            self._emit(f"print({self.sent[id(arg)]})  # after the call")
        elif op == "inspect" and kind == "param" and isinstance(what[1], str):
            self._emit(f"print({self._parameter(self._value(rec['obj']), what[1])})")
        elif op == "vjp" and kind == "value":
            self._emit(f"print({self._call(rec, wrt=rec.get('wrt') or ())})")
        elif op == "vjp" and kind in ("grad", "param_grad", "raised"):
            self._backward(rec, what)
        else:
            raise NoReproducer
        if expected is None:
            self.lines.append("# expected: no error")
            return
        if type(expected) in (bool, int, float):  # a function that returns a Python number
            self.lines.append(f"# expected: {expected!r}")
            return
        if not isinstance(expected, torch.Tensor) or expected.numel() > REPRO_ENTRIES:
            raise NoReproducer
        expected = expected.detach().cpu()
        label = "expected (unchanged):" if kind == "arg" else "expected:"
        self.lines.append("# " + label)
        self.lines.extend("# " + line for line in repr(expected).splitlines())

    def _backward(self, rec, what: tuple) -> None:
        wrt = list(rec.get("wrt") or ())
        if what[0] == "param_grad":
            if any(r["op"] == "setattr" and r.get("name") == "grad" for r in self.trace):
                raise NoReproducer  # gradients set by hand would add up with backward's
            holder = rec.get("params")
            name = what[1]
            if not isinstance(holder, Handle) or not isinstance(name, str):
                raise NoReproducer
            param = self._parameter(self._value(holder), name)
        elif what[0] == "grad":
            index = wrt[what[1]] if what[1] < len(wrt) else None
            if not isinstance(index, int) or index >= len(rec["args"]):  # a keyword's gradient: not shown
                raise NoReproducer
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
                if isinstance(k, int) and k < len(rec["args"]) and id(rec["args"][k]) in self.sent:
                    self._emit(f"print({self.sent[id(rec['args'][k])]}.grad)")
