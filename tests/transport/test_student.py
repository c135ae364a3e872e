"""grader.transport.student: one typed way to call (CallOptions -> CallResult) and three
short forms, each with one return shape; the request sent is what the worker expects.
The worker is replaced by a recorder here (tests/feedback/test_report.py drives a real one)."""

import pytest
import torch

from grader.transport.student import Call, CallOptions, CallResult, Handle, Ref, Student


class Recorder(Student):
    """A Student whose requests are answered from ``replies`` and kept in ``sent``."""

    def __init__(self, reply: dict):
        self.trace, self.calls, self.sent, self.reply = [], 0, [], reply

    def _check_name(self, ref) -> None:
        pass

    def _request(self, op, what, timeout=None, _record=None, **fields):
        self.sent.append({"op": op, "what": what, "timeout": timeout, **fields})
        return dict(self.reply)


def test_call_returns_the_value_and_sends_the_plain_options():
    s = Recorder({"value": 3.0})
    x = torch.ones(2)
    assert s.call(s.ref("f"), x, 2, _what="f(x, 2)", _grad="no_grad", _timeout=4.0, scale=1) == 3.0
    sent = s.sent[0]
    assert (sent["op"], sent["what"], sent["timeout"], sent["grad"]) == ("call", "f(x, 2)", 4.0, "no_grad")
    assert sent["args"][0] is x and sent["kwargs"] == {"scale": 1}
    assert sent["return_args"] is False and sent["inspect"] is False and "before" not in sent
    assert s.trace[0]["done"] and s.trace[0]["value"] == 3.0 and s.trace[0]["copies"][id(x)] is not None


def test_call_and_args_returns_the_value_and_the_arguments_after():
    s = Recorder({"value": 1, "args": ["after"]})
    assert s.call_and_args(s.ref("f"), "before") == (1, ["after"])
    assert s.sent[0]["return_args"] is True and s.sent[0]["inspect"] is False
    assert s.trace[0]["args_after"] == ["after"]


def test_call_and_inspect_inspects_the_value_or_another_object():
    s = Recorder({"value": Handle(7, "torch.nn.Linear"), "info": {"params": []}})
    value, info = s.call_and_inspect(Student.torch("nn.Linear"), 2, 1)
    assert isinstance(value, Handle) and info == {"params": []} and s.sent[0]["inspect"] is True
    assert [r["op"] for r in s.trace] == ["call", "inspect"] and s.trace[1]["obj"] is value
    model = Ref("handle", 3)
    s.call_and_inspect(Ref("handle", 4, "step"), _of=model)
    assert s.sent[1]["inspect"] is model and s.trace[3]["obj"] is model


def test_calls_made_first_go_in_the_same_request_and_in_the_trace():
    s = Recorder({"value": None})
    first = Call(Ref("handle", 1, "zero_grad"), set_to_none=True)
    s.call(Student.torch("autograd.backward"), [], _before=[first])
    assert s.sent[0]["before"] == [first] and len(s.sent) == 1
    assert s.trace[0]["fn"] is first.fn and s.trace[0]["value"] is None and s.trace[0]["done"]
    assert s.trace[1]["fn"].parts == ("torch", "autograd", "backward")


def test_request_call_is_the_typed_form():
    s = Recorder({"value": 5, "args": [9]})
    r = s.request_call(s.ref("f"), (1,), {"k": 2}, CallOptions(what="f(1)", return_args=True))
    assert r == CallResult(5, args=[9], info=None)
    assert s.request_call(s.ref("f")).value == 5 and s.sent[1]["what"] == "f(...)"


def test_call_and_args_gives_the_keyword_arguments_as_the_call_left_them_when_asked():
    s = Recorder({"value": 5, "args": [9], "kwargs": {"k": 3}})
    assert s.call_and_args(s.ref("f"), 1, k=2, _keywords=True) == (5, [9], {"k": 3})
    assert s.call_and_args(s.ref("f"), 1, k=2) == (5, [9]) and s.sent[-1]["kwargs"] == {"k": 2}


def test_return_args_and_inspect_do_not_go_together():
    with pytest.raises(ValueError):
        CallOptions(return_args=True, inspect=True)


def test_the_trace_stops_past_its_length():
    s = Recorder({"value": 0})
    for _ in range(70):
        s.call(s.ref("f"))
    assert s.trace is None
    s.begin_test("next")
    assert s.trace == [] and s.calls == 0 and s.test_id == "next"


def test_fill_uninitialised_is_sent_only_when_asked():
    s = Recorder({"value": None})
    s.call(s.ref("Linear"), 20, 6, _fill_uninitialised=True)
    s.call(s.ref("Linear"), 20, 6)
    assert s.sent[0]["fill_uninitialised"] is True and "fill_uninitialised" not in s.sent[1]
    assert s.sent[0]["args"] == [20, 6] and s.sent[0]["kwargs"] == {}
