"""Forbidden by what the computation is, not by its name.

Each answer below computes the exercise's forbidden function with another built-in
(``x - logcumsumexp(x)[..., -1:]`` is a log-softmax, ``leaky_relu(x, 0)`` a ReLU,
``_fused_sgd_`` torch's SGD step, ``run_backward`` what ``torch.autograd.grad``
calls); each would score 10/10 if only the usual names were forbidden.  Each is
caught by the static scan and, with that scan switched off, by the worker (its
TorchFunctionMode, its blocked aten kernels, its watch on the autograd engine).
Plain tensor arithmetic stays allowed: the model answers keep full marks.
"""

import textwrap

import pytest

from grader.exercises import lookup
from grader.verdicts import forbidden, integrity
from tests.conftest import ROOT, exercise_of

MATMUL_HEAD = """\
    import torch


    class MatMul(torch.autograd.Function):
        @staticmethod
        def forward(ctx, X, Y):
            ctx.save_for_backward(X, Y)
            return X @ Y

        @staticmethod
        def backward(ctx, grad):
            X, Y = ctx.saved_tensors
            with torch.enable_grad():
                x, y = X.detach().requires_grad_(), Y.detach().requires_grad_()
                out = x @ y
"""

SGD_HEAD = """\
    import torch


    class SGD:
        def __init__(self, params, lr):
            self.params = list(params)
            self.lr = lr

        def zero_grad(self):
            for p in self.params:
                p.grad = None

        def step(self):
            ps = [p for p in self.params if p.grad is not None]
            with torch.no_grad():
"""

ROADS = [
    (
        "logcumsumexp",
        "exercise2",
        """\
        import torch


        def log_softmax(x):
            return x - torch.logcumsumexp(x, -1)[..., -1:]
        """,
    ),
    (
        "Tensor.logcumsumexp",
        "exercise2",
        """\
        def log_softmax(x):
            return x - x.logcumsumexp(-1)[..., -1:]
        """,
    ),
    (
        "Categorical logits",
        "exercise2",
        """\
        import torch


        def log_softmax(x):
            return torch.distributions.Categorical(logits=x).logits
        """,
    ),
    (
        "Categorical log_prob",
        "exercise3",
        """\
        import torch


        def cross_entropy(logits, target):
            return -torch.distributions.Categorical(logits=logits).log_prob(target).mean()
        """,
    ),
    (
        "leaky_relu(x, 0)",
        "exercise5",
        """\
        import torch
        import torch.nn.functional as F


        class ReLU(torch.nn.Module):
            def forward(self, X):
                return F.leaky_relu(X, 0.0)
        """,
    ),
    (
        "prelu with a zero weight",
        "exercise5",
        """\
        import torch


        class ReLU(torch.nn.Module):
            def forward(self, X):
                return torch.prelu(X, torch.zeros(1, dtype=X.dtype, device=X.device))
        """,
    ),
    (
        "elu with alpha 0",
        "exercise5",
        """\
        import torch
        import torch.nn.functional as F


        class ReLU(torch.nn.Module):
            def forward(self, X):
                return F.elu(X, alpha=0.0)
        """,
    ),
    (
        "nn.LeakyReLU(0)",
        "exercise5",
        """\
        import torch


        class ReLU(torch.nn.Module):
            def forward(self, X):
                return torch.nn.LeakyReLU(0.0)(X)
        """,
    ),
    (
        "_fused_sgd_",
        "exercise7",
        SGD_HEAD
        + """\
                torch._fused_sgd_(ps, [p.grad for p in ps], [], weight_decay=0.0, momentum=0.0, lr=self.lr,
                                  dampening=0.0, nesterov=False, maximize=False, is_first_step=False)
        """,
    ),
    (
        "_foreach_add_",
        "exercise7",
        SGD_HEAD
        + """\
                torch._foreach_add_(ps, [p.grad for p in ps], alpha=-self.lr)
        """,
    ),
    (
        "functional sgd",
        "exercise7",
        SGD_HEAD
        + """\
                from torch.optim.sgd import sgd
                sgd(ps, [p.grad for p in ps], [None] * len(ps), weight_decay=0.0, momentum=0.0, lr=self.lr,
                    dampening=0.0, nesterov=False, maximize=False)
        """,
    ),
    (
        "the engine's run_backward",
        "exercise8",
        MATMUL_HEAD
        + """\
                return torch.autograd.Variable._execution_engine.run_backward(
                    (out,), (grad,), False, False, (x, y), True, True)
        """,
    ),
    (
        "an engine fetched at import",
        "exercise8",
        MATMUL_HEAD.replace(
            "    import torch\n",
            "    import torch\n    from torch.autograd.variable import Variable\n"
            "    ENGINE = Variable._execution_engine\n",
        )
        + """\
                return ENGINE.run_backward((out,), (grad,), False, False, (x, y), True, True)
        """,
    ),
]


def _src(name, source):
    text = textwrap.dedent(source)
    compile(text, lookup(name).file, "exec")  # valid Python: 0 points is the rule's doing, not a typo
    return text


@pytest.mark.slow
@pytest.mark.parametrize("name,source", [r[1:] for r in ROADS], ids=[r[0] for r in ROADS])
def test_another_road_to_the_forbidden_function_scores_zero(grade_folder, submission, name, source):
    report = grade_folder(submission({lookup(name).file: _src(name, source)}), name)
    ex = exercise_of(report, name)
    assert ex["score"] == 0, [t["message"] for t in ex["tests"] if t["status"] != "passed"][:2]
    assert any(t.get("kind") == "forbidden" for t in ex["tests"])


@pytest.mark.slow
@pytest.mark.parametrize("name,source", [r[1:] for r in ROADS], ids=[r[0] for r in ROADS])
def test_another_road_is_caught_in_the_worker_too(grade_folder, submission, monkeypatch, name, source):
    """The static scan switched off: the worker's watch alone."""
    monkeypatch.setattr(forbidden, "scan", lambda *a: [])
    monkeypatch.setattr(forbidden, "scan_all", lambda *a: ([], []))
    monkeypatch.setattr(integrity, "scan", lambda *a: ([], []))
    report = grade_folder(submission({lookup(name).file: _src(name, source)}), name)
    ex = exercise_of(report, name)
    failed = [t for t in ex["tests"] if t["status"] != "passed"]
    if name in ("exercise7", "exercise8"):  # the rest is honest: every test that runs step()/backward fails
        assert any(t.get("kind") == "forbidden" for t in failed), failed[:2]
        assert ex["score"] < 10
        if name == "exercise8":
            assert any(t["name"] == "test_gradcheck" and t.get("kind") == "forbidden" for t in failed)
    else:
        assert ex["score"] == 0, [t["message"] for t in failed][:2]
        assert any(t.get("kind") == "forbidden" for t in failed)


def test_every_stub_names_what_computes_its_forbidden_function():
    """The student is told, in the stub's docstring, which other built-ins count."""
    wanted = {
        "exercise2_log_softmax.py": ["logcumsumexp"],
        "exercise3_cross_entropy.py": ["Categorical"],
        "exercise5_relu.py": ["leaky_relu", "prelu", "elu"],
        "exercise7_sgd.py": ["_fused_sgd_", "_foreach"],
        "exercise8_matmul.py": ["run_backward"],
    }
    for file, words in wanted.items():
        text = (ROOT / "exercises" / file).read_text()
        assert all(w in text for w in words), (file, [w for w in words if w not in text])
