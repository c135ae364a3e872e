"""The layers of exercise 6's suite: torch's own layers built in the worker, and their mirror here.

The student's Sequential is given handles of torch layers (nn.Linear, nn.ReLU, nn.Tanh, nn.Dropout) built
in the worker; their parameters are read back with the request that builds them, and each ``Layer``
computes here, in float64, what its worker twin computes.
"""

import torch

from grader.transport.student import Call, Student
from grader.verdicts.batching import build_together


def _label(spec) -> str:
    name, *args = spec
    return f"nn.{name}({', '.join(str(a) for a in args)})"


class Layer:
    """A torch layer built in the worker, and how to compute it here (float64)."""

    def __init__(self, student, spec, made=None):
        """``made``: (handle, params) of a layer built with others by ``layers``; else it is built here,
        and read back in the same request."""
        self.spec = spec
        self.label = _label(spec)
        if made is None:
            self.handle, info = student.call_and_inspect(Student.torch(f"nn.{spec[0]}"), *spec[1:], _what=self.label)
            self.take(info.get("params", []))
        else:
            self.handle, params = made
            self.take(params)

    def take(self, params):
        self.params = {name: [t, h.id] for name, t, h in params}  # name -> [tensor, handle id]

    def refresh(self, student):
        """Read the layer's parameters back from the worker (after a conversion, say)."""
        info = student.inspect(self.handle, _what=f"inspecting {self.label}")
        self.take(info.get("params", []))

    def set(self, student, **values):
        """Give the layer's parameters explicit values (e.g. weight=[[1., 2.]]), read back in the same request."""
        state = {name: torch.tensor(value) for name, value in values.items()}
        _, info = student.call_and_inspect(
            self.handle.attr("load_state_dict"),
            state,
            strict=False,
            _grad="no_grad",
            _what=f"setting {self.label}." + " and .".join(state),
            _of=self.handle,
        )
        self.take(info.get("params", []))

    def __call__(self, x):
        kind = self.spec[0]
        if kind == "Linear":
            out = x @ self.params["weight"][0].double().T
            return out + self.params["bias"][0].double() if "bias" in self.params else out
        if kind == "ReLU":
            return x.clamp(min=0)
        if kind == "Tanh":
            return torch.tanh(x)
        if kind == "Dropout":
            return x  # only ever evaluated in eval mode here
        raise ValueError(kind)


def layers(student, specs) -> list:
    """The layers ``specs`` built in the worker, in one request (verdicts.batching.build_together)."""
    made = build_together(
        student,
        [Call(Student.torch(f"nn.{spec[0]}"), *spec[1:]) for spec in specs],
        ", ".join(_label(spec) for spec in specs),
    )
    return [Layer(student, spec, m) for spec, m in zip(specs, made)]


def compose(layers, x):
    for layer in layers:
        x = layer(x)
    return x
