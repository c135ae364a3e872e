"""The model of exercise 7's suite: torch layers in the worker with a known state, mirrored here.

The student's SGD is given the parameters of torch's own layers (nn.Sequential of nn.Linear), built in
the worker; their values are read back with the request that builds them, and after each step with the
step's own request.  Gradients are set here and there alike (``set_grads``).
"""

import torch

from grader.transport.student import Call, Handle, Student
from grader.verdicts.checks import check, dtype_str
from grader.verdicts.diagnosis import ErrorHint, call_checked
from grader.verdicts.inputs import randn

LAYERS = [(5, 4), (4, 3)]

# setting the next gradients fails when step() switched requires_grad off
GRAD_ERRORS = (
    ErrorHint(
        ("does not require grad",),
        "After step() a parameter no longer requires a gradient: "
        "don't switch requires_grad off or replace the tensor; update it in place under "
        "`with torch.no_grad():`, which leaves it trainable.",
    ),
)


class Model:
    """torch layers in the worker with a known state, mirrored here by leaf tensors."""

    def __init__(
        self,
        student,
        rng,
        dtype=torch.float32,
        device="cpu",
        layers=LAYERS,
        state=None,
        how="random weights and biases",
    ):
        """One round trip builds the layers and reads them back (``call_and_inspect``); without a ``state``
        their own random initial values (seeded by the worker) are the state, mirrored here."""
        self.student = student
        self.dtype, self.device, self.how = dtype, device, how
        self.label = "nn.Sequential(" + ", ".join(f"nn.Linear({i}, {o})" for i, o in layers) + ")"
        mods = [Call(Student.torch("nn.Linear"), i, o, dtype=dtype) for i, o in layers]
        self.handle, info = student.call_and_inspect(Student.torch("nn.Sequential"), *mods, _what=self.label)
        self._take(info)
        if state is not None:
            student.call(self.handle.attr("load_state_dict"), state, _what=f"{self.label}.load_state_dict(...)")
            self.last = {n: t.to(dtype) for n, t in state.items()}
        if device != "cpu":
            student.call(self.handle.attr("to"), device, _what=f"{self.label}.to('{device}')")
            self.read()
        self.names = list(self.last)
        self.local = {n: t.detach().cpu().clone().requires_grad_() for n, t in self.last.items()}
        self.handles = dict(self.last_handles)
        self.grads_none = True  # no .grad in the worker yet (torch's fresh layers)
        self.grads_how = "random values"

    @property
    def inputs(self) -> str:
        return f"{self.label}, {dtype_str(self.dtype)} on {self.device}, {self.how}"

    def _take(self, info) -> None:
        params = info.get("params", [])
        self.last = {n: t for n, t, _h in params}
        self.last_handles = {n: h for n, _t, h in params}

    def read(self) -> dict:
        """{name: tensor} of the worker's parameters, as they are now (``last_handles``: their handles)."""
        self._take(self.student.inspect(self.handle, _what=f"inspecting {self.label}"))
        return self.last

    def current(self) -> dict:
        """The parameters as last read (or set): nothing of the student's has run on them since but
        the optimizer's construction and the grader's own gradient setting."""
        return self.last

    def param_list(self) -> list:
        return [self.handles[n] for n in self.names]

    def generator(self):
        """model.parameters(), made in the worker as the request that passes it is read."""
        return Call(self.handle.attr("parameters"))

    def set_grads(self, rng, skip=(), values=None, how="random values") -> dict:
        """Random gradients (or ``values``, described by ``how``) for every parameter, None for those in
        ``skip``, here and in the worker, where torch's own zero_grad and backward put them in place: fresh
        tensors, as after a real backward (a tensor sent to the worker is a view of the received bytes,
        which `p.grad.detach_()`, torch's old zero_grad, refuses)."""
        grads = {
            n: None if n in skip else values[n] if values else randn(rng, tuple(self.local[n].shape), self.dtype)
            for n in self.names
        }
        for n, g in grads.items():
            self.local[n].grad = None if g is None else g.clone()
        self.grads_how = how
        self.give_grads(grads)
        return grads

    def give_grads(self, grads: dict) -> None:
        """Set the worker's gradients (None where ``grads`` has None): zero_grad, then backward with them,
        in one round trip (zero_grad is made first, in the same request)."""
        clear = [] if self.grads_none else [Call(self.handle.attr("zero_grad"), set_to_none=True)]
        self.grads_none = False
        given = [n for n in self.names if grads.get(n) is not None]
        call_checked(
            self.student,
            Student.torch("autograd.backward"),
            [self.handles[n] for n in given],
            [grads[n].to(self.device) for n in given],
            _what="setting the gradients",
            errors=GRAD_ERRORS,
            _before=clear,
        )

    def sgd(self, *args, _params="params", **kwargs):
        """The student's SGD built in the worker."""
        what = (
            "SGD("
            + ", ".join([_params] + [repr(a) for a in args[1:]] + [f"{k}={v!r}" for k, v in kwargs.items()])
            + ")"
        )
        opt = self.student.call(self.student.ref("SGD"), *args, _what=what, **kwargs)
        check(
            isinstance(opt, Handle) and "Tensor" not in opt.type,
            f"{what} did not make an optimizer object",
            "SGD is a class: `class SGD:` with `__init__(self, params, lr=1.0)`, `step(self)` and `zero_grad(self)`.",
        )
        return opt, what
