"""``Student``: what a hidden test talks to, one student's file for one exercise.

Every request goes through ``Session`` (``grader.transport.session``: the worker, the
budgets, the rules); what comes back is plain data or ``Handle``s to objects that stay in
the worker.  A call has one typed form, ``Student.request_call(fn, args, kwargs,
CallOptions(...)) -> CallResult``, and three short ones for the tests: ``call`` (the
value), ``call_and_args`` (the value and the arguments as the call left them) and
``call_and_inspect`` (the value and what ``inspect`` gives, in one round trip).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from grader.errors import ErrorKind, StudentError
from grader.transport import explain
from grader.transport.session import Session
from grader.wire.codec import Call, Handle, Ref

TRACE_CALLS = 64  # requests a test's trace keeps (for a visible test's reproducer); more: no trace
TRACE_COPY = 64  # tensors up to this many entries are copied into the trace as they were sent


@dataclasses.dataclass(frozen=True)
class CallOptions:
    """How ``Student.request_call`` makes one call."""

    what: str | None = None  # the call as the student reads it in a message ("softmax(x)")
    timeout: float | None = None  # seconds, instead of Limits.call_timeout
    grad: str = "enable"  # "no_grad": the call runs under torch.no_grad()
    before: tuple = ()  # ``Call``s made first, in order, in the same request
    return_args: bool = False  # send back the arguments as the call left them
    inspect: Any = None  # True: inspect the value; a Handle or Ref: that object, after the call
    fill_uninitialised: bool = False  # torch fills what it allocates unfilled (torch.empty) with nan, for this
    # request only (the ``before`` Calls, the Calls among the arguments, the call), where torch can

    def __post_init__(self):
        if self.return_args and self.inspect is not None:
            raise ValueError("return_args and inspect do not go together")


@dataclasses.dataclass(frozen=True)
class CallResult:
    """What one call gave: its ``value``; ``args`` and ``kwargs`` as the call left them (``return_args``);
    ``info``, what ``inspect`` gives (``inspect``)."""

    value: Any
    args: list | None = None
    info: dict | None = None
    kwargs: dict | None = None


class Student(Session):
    """One student's file for one exercise, as the hidden tests see it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.trace: list | None = []

    def begin_test(self, test_id: str, trace: bool = True) -> None:
        """A new test starts; ``trace``: keep its requests for a reproducer (visible tests)."""
        self.test_id = test_id
        self.calls = 0
        self.trace = [] if trace else None

    def _record(self, op: str, **fields) -> dict:
        """Note a request of the current test in ``trace``, for a visible test's
        reproducer (``grader.harness.plugin``): what the test sent, with copies of its small
        tensors as they were sent (``copies``: id → copy, None when too large).
        The reply is added as it came (the plugin only compares it by identity and
        follows handles by id); nothing the worker sent is ever shown from it."""
        rec = {"op": op, **fields, "copies": {}}
        if self.trace is not None:
            if len(self.trace) >= TRACE_CALLS:
                self.trace = None
            else:
                self.trace.append(rec)
                _copy_tensors(fields, rec["copies"])
        return rec

    # -- names -----------------------------------------------------------------------
    def ref(self, *names: str) -> Ref:
        """A name in the student's module, e.g. ``student.ref('softmax')``."""
        return Ref("student", *names)

    @staticmethod
    def torch(dotted: str) -> Ref:
        """A torch built-in the worker looks up, e.g. ``Student.torch('nn.Linear')``."""
        return Ref("torch", *dotted.split("."))

    # -- calls -------------------------------------------------------------------------
    def request_call(self, fn, args=(), kwargs=None, options: CallOptions = CallOptions()) -> CallResult:
        """Call ``fn`` (a Ref or Handle) in the worker with ``args`` and ``kwargs`` (which may
        hold ``Call``s, made in the worker as it reads the request)."""
        kwargs = dict(kwargs or {})
        o = options
        self._check_name(fn)
        if o.inspect is not None and o.inspect is not True:
            self._check_name(o.inspect)
        what = o.what or _describe_call(fn)
        before = [self._record("call", fn=c.fn, args=c.args, kwargs=c.kwargs, grad=o.grad) for c in o.before]
        rec = self._record("call", fn=fn, args=list(args), kwargs=kwargs, grad=o.grad)
        fields: dict = {"before": list(o.before)} if o.before else {}
        if o.fill_uninitialised:
            fields["fill_uninitialised"] = True
        reply = self._request(
            "call",
            what,
            o.timeout,
            rec,
            fn=fn,
            args=list(args),
            kwargs=kwargs,
            grad=o.grad,
            return_args=o.return_args,
            inspect=False if o.inspect is None else o.inspect,
            **fields,
        )
        for r in before:  # as if called apart (their values stayed in the worker)
            r.update(done=True, value=None)
        value = reply.get("value")
        rec.update(done=True, value=value, args_after=reply.get("args"))
        if o.return_args:
            return CallResult(value, args=reply.get("args"), kwargs=reply.get("kwargs"))
        if o.inspect is not None:
            info = reply.get("info")
            self._record("inspect", obj=value if o.inspect is True else o.inspect).update(
                done=True, value=info
            )  # as if inspected apart
            return CallResult(value, info=info)
        return CallResult(value)

    def call(
        self,
        fn,
        *args,
        _what: str | None = None,
        _timeout: float | None = None,
        _grad: str = "enable",
        _before=(),
        _fill_uninitialised: bool = False,
        **kwargs,
    ):
        """``fn(*args, **kwargs)`` in the worker: its value (plain data or Handles).  The
        underscored options are ``CallOptions``' (``_before``: ``Call``s made first)."""
        options = CallOptions(_what, _timeout, _grad, tuple(_before), fill_uninitialised=_fill_uninitialised)
        return self.request_call(fn, args, kwargs, options).value

    def call_and_args(
        self,
        fn,
        *args,
        _what: str | None = None,
        _timeout: float | None = None,
        _grad: str = "enable",
        _before=(),
        _keywords: bool = False,
        **kwargs,
    ) -> tuple:
        """``(value, args as the call left them)``, e.g. to see an input changed in place; ``_keywords``:
        ``(value, args, kwargs as the call left them)`` (None for a call without keyword arguments)."""
        r = self.request_call(fn, args, kwargs, CallOptions(_what, _timeout, _grad, tuple(_before), return_args=True))
        return (r.value, r.args, r.kwargs) if _keywords else (r.value, r.args)

    def call_and_inspect(
        self,
        fn,
        *args,
        _of=None,
        _what: str | None = None,
        _timeout: float | None = None,
        _grad: str = "enable",
        _before=(),
        **kwargs,
    ) -> tuple:
        """``(value, what inspect gives)`` in one round trip: of the value, or of ``_of``
        (a Handle or Ref) after the call."""
        r = self.request_call(
            fn, args, kwargs, CallOptions(_what, _timeout, _grad, tuple(_before), inspect=True if _of is None else _of)
        )
        return r.value, r.info

    # -- other requests -------------------------------------------------------------------
    def getattr(self, obj, name: str, _what: str | None = None):
        self._check_name(obj)
        rec = self._record("getattr", obj=obj, name=name)
        value = self._request("getattr", _what or f"reading .{name}", None, rec, obj=obj, name=name).get("value")
        rec.update(done=True, value=value)
        return value

    def setattr(self, obj, name: str, value) -> None:
        rec = self._record("setattr", obj=obj, name=name, value=value)
        self._request("setattr", f"setting .{name}", None, rec, obj=obj, name=name, value=value)
        rec["done"] = True

    def inspect(self, obj, _what: str | None = None) -> dict:
        """Type, signature and (for modules) parameters, buffers and children."""
        self._check_name(obj)
        rec = self._record("inspect", obj=obj)
        value = self._request("inspect", _what or "inspecting an object", None, rec, obj=obj).get("value")
        rec.update(done=True, value=value)
        return value

    def vjp(
        self,
        fn,
        args,
        grad_output=None,
        wrt=(0,),
        params=None,
        _what: str | None = None,
        _timeout: float | None = None,
        **kwargs,
    ):
        """Run ``fn(*args, **kwargs)`` with autograd and return ``(output, input_grads, param_grads)``;
        ``wrt``: the positions of the arguments whose gradients are returned, or the keywords (a str)."""
        self._check_name(fn)
        rec = self._record(
            "vjp", fn=fn, args=list(args), kwargs=kwargs, grad_output=grad_output, wrt=list(wrt), params=params
        )
        reply = self._request(
            "vjp",
            _what or f"backward through {_describe_call(fn)}",
            _timeout,
            rec,
            fn=fn,
            args=list(args),
            kwargs=kwargs,
            grad_output=grad_output,
            wrt=list(wrt),
            params=params,
        )
        pg = reply.get("param_grads") or []
        if not (isinstance(pg, (list, dict)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in pg)):
            raise explain.malformed_backward()
        out = reply.get("value"), reply.get("grads"), dict(pg)
        rec.update(done=True, value=out[0], grads=out[1], param_grads=out[2])
        return out

    def vjps(
        self, fn, args, grad_outputs, wrt=(0,), _what: str | None = None, _timeout: float | None = None, kwargs=None
    ):
        """Run ``fn(*args, **kwargs)`` once with autograd and backward through it once for each of
        ``grad_outputs`` (in order, each a separate run of the student's backward): returns
        ``(output, [input_grads for each grad_output])``, in one round trip."""
        self._check_name(fn)
        kwargs = dict(kwargs or {})
        rec = self._record(
            "vjps", fn=fn, args=list(args), kwargs=kwargs, grad_outputs=list(grad_outputs), wrt=list(wrt)
        )
        reply = self._request(
            "vjp",
            _what or f"backward through {_describe_call(fn)}",
            _timeout,
            rec,
            fn=fn,
            args=list(args),
            kwargs=kwargs,
            grad_outputs=list(grad_outputs),
            wrt=list(wrt),
        )
        value, grads = reply.get("value"), reply.get("grads")
        if (
            not isinstance(grads, list)
            or len(grads) != len(grad_outputs)
            or not all(isinstance(g, list) for g in grads)
        ):
            raise explain.malformed_backward()
        rec.update(done=True, value=value, grads=grads)
        return value, grads


def _copy_tensors(value, into: dict, depth: int = 0) -> None:
    """Copy the small tensors in ``value`` (nested lists, tuples, dicts) into ``into``, by id."""
    import torch

    if isinstance(value, torch.Tensor):
        if id(value) not in into:
            into[id(value)] = value.detach().clone() if value.numel() <= TRACE_COPY else None
    elif isinstance(value, (list, tuple)) and depth < 8:
        for v in value:
            _copy_tensors(v, into, depth + 1)
    elif isinstance(value, dict) and depth < 8:
        for v in value.values():
            _copy_tensors(v, into, depth + 1)
    elif isinstance(value, Call) and depth < 8:
        _copy_tensors([value.args, value.kwargs], into, depth + 1)


def _describe_call(fn) -> str:
    if isinstance(fn, Ref):
        parts = [str(p) for p in fn.parts if not isinstance(p, int)]
        if parts and parts[0] in ("student", "handle"):
            parts = parts[1:]
        return ".".join(parts) + "(...)" if parts else "the call"
    if isinstance(fn, Handle):
        return f"calling the {fn.type.rsplit('.', 1)[-1]} object"
    return "the call"


__all__ = ["Student", "StudentError", "ErrorKind", "CallOptions", "CallResult", "Call", "Handle", "Ref"]
