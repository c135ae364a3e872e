"""The model of exercise 9's suite: a small torch network in the worker (with torch.optim.SGD) and here.

``epoch`` is run in the worker on nn.Sequential(nn.Linear, nn.ReLU, nn.Linear), built there from a state
chosen here (made with its state in one request); the same state goes through ``reference.epoch`` here
with a local torch model and ``reference.SGD``.
"""

import torch

import reference
from grader.transport.student import Call, Student
from grader.verdicts.batching import build_with_state
from grader.verdicts.checks import dtype_str
from grader.verdicts.inputs import randn

IN, HID, K = 6, 8, 4
LABEL = f"nn.Sequential(nn.Linear({IN}, {HID}), nn.ReLU(), nn.Linear({HID}, {K}))"


class Net:
    """The same small torch network in the worker (with torch.optim.SGD) and here."""

    def __init__(self, rng, dtype=torch.float64):
        self.dtype = dtype
        self.state = {
            "0.weight": randn(rng, (HID, IN), dtype, scale=0.7),
            "0.bias": randn(rng, (HID,), dtype),
            "2.weight": randn(rng, (K, HID), dtype, scale=0.7),
            "2.bias": randn(rng, (K,), dtype),
        }

    def build(self, student, lr=None, momentum=0.0, separate_opt=False):
        """(model handle, optimizer or None) in the worker: the model and its state in one request (the
        model and its layers are ``Call``s); the optimizer is a ``Call`` that the request passing it
        makes (its own request with ``separate_opt``, for an optimizer passed more than once)."""
        layers = [
            Call(Student.torch("nn.Linear"), IN, HID, dtype=self.dtype),
            Call(Student.torch("nn.ReLU")),
            Call(Student.torch("nn.Linear"), HID, K, dtype=self.dtype),
        ]
        m = build_with_state(
            student, Call(Student.torch("nn.Sequential"), *layers), self.state, f"{LABEL}.load_state_dict(...)"
        )
        if lr is None:
            return m, None
        opt = Call(Student.torch("optim.SGD"), Call(m.attr("parameters")), lr=lr, momentum=momentum)
        if separate_opt:
            opt = student.call(
                opt.fn,
                *opt.args,
                _what=f"torch.optim.SGD(model.parameters(), lr={lr}, momentum={momentum})",
                **opt.kwargs,
            )
        return m, opt

    def local(self, lr=None, momentum=0.0):
        model = torch.nn.Sequential(
            torch.nn.Linear(IN, HID, dtype=self.dtype), torch.nn.ReLU(), torch.nn.Linear(HID, K, dtype=self.dtype)
        )
        model.load_state_dict(self.state)
        # reference.SGD makes torch.optim.SGD's updates bit for bit, without its first step's imports
        opt = None if lr is None else reference.SGD(model.parameters(), lr=lr, momentum=momentum)
        return model, opt

    def describe(self, lr, momentum):
        opt = (
            "opt=None"
            if lr is None
            else f"opt=torch.optim.SGD(model.parameters(), lr={lr}" + (f", momentum={momentum})" if momentum else ")")
        )
        return f"model: {LABEL}, {dtype_str(self.dtype)}, random weights; {opt}"
