"""grader.verdicts.batching: torch modules built, set and read back in one request each.

Run against a real worker (the session's zygote): each helper must give what the separate requests
would give, in the number of requests it promises (Student.calls counts them)."""

from pathlib import Path

import pytest
import torch

from grader.exercises import lookup
from grader.transport.limits import Limits
from grader.transport.student import Call, Student
from grader.verdicts.batching import (
    build_together,
    build_with_state,
    call_and_refresh,
    params_by_name,
    read_attributes,
    refresh,
)
from grader.verdicts.rules import Rules

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def student(zygote, tmp_path):
    ex = lookup("6")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ex.file).write_text((ROOT / "solutions" / ex.file).read_text())
    s = Student(ex, tmp_path / "sub", zygote, Limits(), tmp_path / "work", rules=Rules())
    s.begin_test("test_something")
    yield s
    s.close()


class Mirror:
    """The protocol build_together's callers follow: handle, label, take(params), refresh(student)."""

    def __init__(self, label, made):
        self.label = label
        self.handle, params = made
        self.refreshed = 0
        self.take(params)

    def take(self, params):
        self.params = {name: t for name, t, _h in params}

    def refresh(self, student):
        self.refreshed += 1
        self.take(student.inspect(self.handle).get("params", []))


def _requests(student) -> int:
    """The round trips to the worker so far."""
    return student.calls


def test_build_together_one_request_and_each_layers_parameters(student):
    before = _requests(student)
    made = build_together(
        student,
        [
            Call(Student.torch("nn.Linear"), 3, 2),
            Call(Student.torch("nn.ReLU")),
            Call(Student.torch("nn.Linear"), 2, 4, bias=False),
        ],
        "three layers",
    )
    assert _requests(student) - before == 1
    assert [sorted(name for name, _t, _h in params) for _ref, params in made] == [["bias", "weight"], [], ["weight"]]
    weights = {tuple(t.shape) for _ref, params in made for name, t, _h in params if name == "weight"}
    assert weights == {(2, 3), (4, 2)}
    assert build_together(student, [], "nothing") == []


def test_call_and_refresh_reads_the_conversion_in_the_same_request(student):
    made = build_together(
        student, [Call(Student.torch("nn.Linear"), 3, 2), Call(Student.torch("nn.Linear"), 2, 2)], "two layers"
    )
    layers = [Mirror(f"layer {i}", m) for i, m in enumerate(made)]
    assert all(t.dtype == torch.float32 for layer in layers for t in layer.params.values())
    seq = student.call(Student.torch("nn.Sequential"), *[layer.handle for layer in layers])
    before = _requests(student)
    call_and_refresh(student, layers, seq.attr("double"), _what="seq.double()")
    assert _requests(student) - before == 1  # the call and the reading, together
    assert all(t.dtype == torch.float64 for layer in layers for t in layer.params.values())
    assert [layer.refreshed for layer in layers] == [0, 0]


def test_refresh_reads_a_layer_built_apart_on_its_own(student):
    together = [Mirror("a", m) for m in build_together(student, [Call(Student.torch("nn.Linear"), 2, 2)], "a")]
    apart = Mirror("b", (student.call(Student.torch("nn.Linear"), 2, 3), []))
    assert apart.params == {}
    refresh(student, together + [apart])
    assert apart.refreshed == 1 and together[0].refreshed == 0
    assert tuple(apart.params["weight"].shape) == (3, 2) and tuple(together[0].params["weight"].shape) == (2, 2)


def test_build_with_state_gives_the_module_its_state_in_one_request(student):
    state = {"weight": torch.tensor([[1.0, -2.0]]), "bias": torch.tensor([0.5])}
    before = _requests(student)
    m = build_with_state(student, Call(Student.torch("nn.Linear"), 2, 1), state, "nn.Linear(2, 1) with a state")
    assert _requests(student) - before == 1
    got = params_by_name(student.inspect(m))
    assert torch.equal(got["weight"], state["weight"]) and torch.equal(got["bias"], state["bias"])


def test_read_attributes_one_request_or_nothing(student):
    lin = student.call(Student.torch("nn.Linear"), 4, 3)
    before = _requests(student)
    known = read_attributes(student, lin, "lin", ("weight", "bias", "in_features"))
    assert _requests(student) - before == 1
    assert tuple(known["weight"].shape) == (3, 4) and tuple(known["bias"].shape) == (3,) and known["in_features"] == 4
    # one attribute that cannot be read: nothing, so that each is read on its own and the error names it
    assert read_attributes(student, lin, "lin", ("weight", "no_such_attribute")) == {}
