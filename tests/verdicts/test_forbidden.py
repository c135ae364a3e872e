"""Forbidden built-ins (grader/verdicts/forbidden.toml): caught statically and at run time,
with the call and the line, and never for allowed or the grader's own calls."""

import textwrap

import pytest

from grader.exercises import lookup
from grader.verdicts import forbidden
from tests.conftest import ROOT, exercise_of

# -- otherwise correct answers, one per spelling --------------------------------------

SM = "exercise1_softmax.py"
LSM = "exercise2_log_softmax.py"
CE = "exercise3_cross_entropy.py"
LIN = "exercise4_linear.py"
RELU = "exercise5_relu.py"
SEQ = "exercise6_sequential.py"
SGD = "exercise7_sgd.py"
MM = "exercise8_matmul.py"


def ex1(body, head="import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"):
    return head + "\n\ndef softmax(x):\n    return " + body + "\n"


def ex2(body, head="import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"):
    return head + "\n\ndef log_softmax(x):\n    return " + body + "\n"


def ex3(loss, head="import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"):
    return head + textwrap.dedent(f"""

        def cross_entropy(logits, targets):
            return {loss}


        class CrossEntropyLoss(nn.Module):
            def forward(self, H, Y):
                return cross_entropy(H, Y)
        """)


def ex4(init, forward):
    return textwrap.dedent(f"""\
        import math
        import torch
        import torch.nn.functional as F
        from torch import nn


        class Linear(nn.Module):
            def __init__(self, in_dim, out_dim, bias=True, init_factor=2.0):
                super().__init__()
                std = math.sqrt(init_factor / in_dim)
                self.weight = nn.Parameter(torch.randn(in_dim, out_dim) * std)
                self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None
                {init}

            def forward(self, X):
                return {forward}
        """)


def ex5(body, head="import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"):
    return head + "\n\nclass ReLU(nn.Module):\n    def forward(self, X):\n        return " + body + "\n"


SEQ_OK_FORWARD = (
    "    def forward(self, X):\n        for layer in self.layers:\n            X = layer(X)\n        return X\n"
)


def ex6(init, head="import torch\nfrom torch import nn\n"):
    return (
        head
        + "\n\nclass Sequential(nn.Module):\n    def __init__(self, *layers):\n        super().__init__()\n"
        + f"        {init}\n"
        + SEQ_OK_FORWARD
    )


def ex7(init, head="import torch\n"):
    return head + textwrap.dedent(f"""

        class SGD:
            def __init__(self, params, lr=1.0):
                self.params = list(params)
                self.lr = lr
                {init}

            def step(self):
                with torch.no_grad():
                    for p in self.params:
                        if p.grad is not None:
                            p -= self.lr * p.grad

            def zero_grad(self):
                for p in self.params:
                    p.grad = None
        """)


def ex8(backward_lines, head="import torch\n"):
    body = "\n".join("        " + ln for ln in backward_lines)
    return (
        head
        + textwrap.dedent("""

        class MatMul(torch.autograd.Function):
            @staticmethod
            def forward(ctx, X, Y):
                ctx.save_for_backward(X, Y)
                return X @ Y

            @staticmethod
            def backward(ctx, grad):
                X, Y = ctx.saved_tensors
        """)
        + body
        + "\n"
    )


AUTOGRAD_GRAD = [
    "with torch.enable_grad():",
    "    X2, Y2 = X.detach().requires_grad_(), Y.detach().requires_grad_()",
    "    return torch.autograd.grad(X2 @ Y2, [X2, Y2], grad)",
]
TENSOR_BACKWARD = [
    "with torch.enable_grad():",
    "    X2, Y2 = X.detach().requires_grad_(), Y.detach().requires_grad_()",
    "    (X2 @ Y2).backward(grad)",
    "    return X2.grad, Y2.grad",
]
FUNC_VJP = ["from torch.func import vjp", "_, f = vjp(torch.matmul, X, Y)", "return f(grad)"]

STABLE_LSE = "(logits - logits.max(-1, keepdim=True).values).exp().sum(-1).log()"
CE_BY_HAND = (
    "-(logits.gather(1, targets[:, None])[:, 0] - logits.max(-1).values - "
    "(logits - logits.max(-1, keepdim=True).values).exp().sum(-1).log()).mean()"
)

# (id, exercise, file, source, the call the message names, the line it names)
CASES = [
    ("ex1-torch.softmax", "exercise1", SM, ex1("torch.softmax(x, -1)"), "softmax", 7),
    ("ex1-F.softmax", "exercise1", SM, ex1("F.softmax(x, dim=-1)"), "softmax", 7),
    ("ex1-method", "exercise1", SM, ex1("x.softmax(-1)"), "softmax", 7),
    ("ex1-nn.Softmax", "exercise1", SM, ex1("torch.nn.Softmax(dim=-1)(x)"), "Softmax", 7),
    ("ex1-special", "exercise1", SM, ex1("torch.special.softmax(x, -1)"), "softmax", 7),
    (
        "ex1-import-alias",
        "exercise1",
        SM,
        ex1("sm(x, -1)", head="from torch.nn.functional import softmax as sm\n"),
        "softmax",
        5,
    ),
    ("ex1-log_softmax", "exercise1", SM, ex1("F.log_softmax(x, -1).exp()"), "log_softmax", 7),
    ("ex2-torch.log_softmax", "exercise2", LSM, ex2("torch.log_softmax(x, -1)"), "log_softmax", 7),
    ("ex2-method", "exercise2", LSM, ex2("x.log_softmax(-1)"), "log_softmax", 7),
    ("ex2-nn.LogSoftmax", "exercise2", LSM, ex2("nn.LogSoftmax(dim=-1)(x)"), "LogSoftmax", 7),
    ("ex2-logsumexp", "exercise2", LSM, ex2("x - torch.logsumexp(x, -1, keepdim=True)"), "logsumexp", 7),
    (
        "ex2-log-of-softmax",
        "exercise2",
        LSM,
        ex2(
            "x - x.amax(-1, keepdim=True) - torch.log(F.softmax(x, -1) * 0 + "
            "(x - x.amax(-1, keepdim=True)).exp().sum(-1, keepdim=True))"
        ),
        "softmax",
        7,
    ),
    ("ex3-F.cross_entropy", "exercise3", CE, ex3("F.cross_entropy(logits, targets)"), "cross_entropy", 7),
    ("ex3-nn.CrossEntropyLoss", "exercise3", CE, ex3("nn.CrossEntropyLoss()(logits, targets)"), "CrossEntropyLoss", 7),
    ("ex3-nll_loss", "exercise3", CE, ex3("F.nll_loss(F.log_softmax(logits, -1), targets)"), "nll_loss", 7),
    (
        "ex3-NLLLoss-alias",
        "exercise3",
        CE,
        ex3(
            "Nll()(torch.log_softmax(logits, 1), targets)",
            head="import torch\nfrom torch import nn\nfrom torch.nn import NLLLoss as Nll\n",
        ),
        "NLLLoss",
        7,
    ),
    ("ex4-F.linear", "exercise4", LIN, ex4("", "F.linear(X, self.weight.T, self.bias)"), "linear", 16),
    (
        "ex4-nn.Linear",
        "exercise4",
        LIN,
        ex4("self.inner = nn.Linear(in_dim, out_dim)", "X @ self.weight + (0 if self.bias is None else self.bias)"),
        "Linear",
        13,
    ),
    (
        "ex4-functional-alias",
        "exercise4",
        LIN,
        ex4("", "torch.nn.functional.linear(X, self.weight.t(), self.bias)"),
        "linear",
        16,
    ),
    ("ex5-torch.relu", "exercise5", RELU, ex5("torch.relu(X)"), "relu", 8),
    ("ex5-F.relu", "exercise5", RELU, ex5("F.relu(X)"), "relu", 8),
    ("ex5-method", "exercise5", RELU, ex5("X.relu()"), "relu", 8),
    ("ex5-nn.ReLU", "exercise5", RELU, ex5("nn.ReLU()(X)"), "ReLU", 8),
    ("ex5-threshold", "exercise5", RELU, ex5("F.threshold(X, 0.0, 0.0)"), "threshold", 8),
    ("ex6-nn.Sequential", "exercise6", SEQ, ex6("self.layers = nn.Sequential(*layers)"), "Sequential", 8),
    ("ex6-torch.nn.Sequential", "exercise6", SEQ, ex6("self.layers = torch.nn.Sequential(*layers)"), "Sequential", 8),
    (
        "ex6-import",
        "exercise6",
        SEQ,
        ex6(
            "self.layers = S(*layers)",
            head="import torch\nfrom torch import nn\nfrom torch.nn import Sequential as S\n",
        ),
        "Sequential",
        9,
    ),
    ("ex7-torch.optim.SGD", "exercise7", SGD, ex7("self.opt = torch.optim.SGD(self.params, lr=lr)"), "SGD", 8),
    (
        "ex7-optim.Adam",
        "exercise7",
        SGD,
        ex7("self.opt = optim.Adam(self.params, lr=lr)", head="import torch\nfrom torch import optim\n"),
        "Adam",
        9,
    ),
    (
        "ex7-from-import",
        "exercise7",
        SGD,
        ex7("self.opt = TorchSGD(self.params, lr=lr)", head="import torch\nfrom torch.optim import SGD as TorchSGD\n"),
        "SGD",
        9,
    ),
    ("ex8-autograd.grad", "exercise8", MM, ex8(AUTOGRAD_GRAD), "grad", 15),
    ("ex8-tensor.backward", "exercise8", MM, ex8(TENSOR_BACKWARD), "backward", 15),
    ("ex8-torch.func.vjp", "exercise8", MM, ex8(FUNC_VJP), "vjp", 14),
]


def _failing(ex):
    return [t for t in ex["tests"] if t["status"] not in ("passed", "skipped")]


def _assert_flagged(report, name, call, line, file):
    ex = exercise_of(report, name)
    assert ex["score"] < 10
    bad = _failing(ex)
    assert bad, ex
    flagged = [t for t in bad if t.get("kind") == "forbidden"]
    assert flagged, [t["message"] for t in bad][:3]
    msg = flagged[0]["message"]
    assert call in msg and f"line {line}" in msg and file in msg, msg
    assert "internal grader error" not in msg and "Traceback" not in msg
    assert flagged[0]["hint"].startswith("Use instead")
    return flagged


@pytest.mark.slow
@pytest.mark.parametrize("name,file,source,call,line", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_static_scan_costs_every_test(grade_folder, submission, name, file, source, call, line):
    report = grade_folder(submission({file: source}), name)
    flagged = _assert_flagged(report, name, call, line, file)
    ex = exercise_of(report, name)
    assert ex["score"] == 0 and len(flagged) == len(_failing(ex))
    assert "every test of this exercise fails" in flagged[0]["hint"]


@pytest.mark.slow
@pytest.mark.parametrize("name,file,source,call,line", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_caught_at_run_time_without_the_static_scan(
    grade_folder, submission, monkeypatch, name, file, source, call, line
):
    """The worker's own report, as when a student hides the name from the scan."""
    monkeypatch.setattr(forbidden, "scan", lambda *a: [])
    report = grade_folder(submission({file: source}), name)
    flagged = _assert_flagged(report, name, call, line, file)
    assert "called" in flagged[0]["message"]


@pytest.mark.slow
def test_obfuscated_call_is_caught_at_run_time(grade_folder, submission):
    """Names the scan cannot see (getattr with a computed string) are still caught when they run."""
    src = "import torch\n\n\ndef softmax(x):\n    f = getattr(torch, 'soft' + 'max')\n    return f(x, -1)\n"
    report = grade_folder(submission({SM: src}), "exercise1")
    flagged = _assert_flagged(report, "exercise1", "torch.softmax", 6, SM)
    assert "softmax(x) called torch.softmax (exercise1_softmax.py, line 6: `return f(x, -1)`)" in flagged[0]["message"]
    assert "exercise 1 asks you" in flagged[0]["message"]


ALLOWED = [
    (
        "ex3-logsumexp",
        "exercise3",
        CE,
        ex3("-(logits.gather(1, targets[:, None])[:, 0] - torch.logsumexp(logits, dim=-1)).mean()"),
    ),
    ("ex3-by-hand", "exercise3", CE, ex3(CE_BY_HAND)),
    ("ex5-clamp", "exercise5", RELU, ex5("torch.clamp(X, min=0)")),
    ("ex5-where", "exercise5", RELU, ex5("torch.where(X > 0, X, torch.zeros_like(X))")),
    (
        "ex1-comment-and-string",
        "exercise1",
        SM,
        textwrap.dedent('''\
        """Not torch.softmax(x, -1): F.softmax is forbidden."""
        import torch


        def softmax(x):
            # torch.softmax(x, -1) would do it; nn.Softmax too
            note = "x.softmax(-1) and F.softmax are not allowed"
            z = x - x.max(dim=-1, keepdim=True).values
            e = torch.exp(z)
            return e / e.sum(dim=-1, keepdim=True)
        '''),
    ),
    (
        "ex5-own-helper-named-relu",
        "exercise5",
        RELU,
        textwrap.dedent("""\
        from torch import nn


        class ReLU(nn.Module):
            def relu(self, X):
                return X.clamp(min=0)

            def forward(self, X):
                return self.relu(X)
        """),
    ),
    (
        "ex8-forward-may-use-anything",
        "exercise8",
        MM,
        textwrap.dedent("""\
        import torch


        class MatMul(torch.autograd.Function):
            @staticmethod
            def forward(ctx, X, Y):
                ctx.save_for_backward(X, Y)
                return torch.nn.functional.linear(X, Y.T)

            @staticmethod
            def backward(ctx, grad):
                X, Y = ctx.saved_tensors
                return grad @ Y.T, X.T @ grad
        """),
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,file,source", [c[1:] for c in ALLOWED], ids=[c[0] for c in ALLOWED])
def test_allowed_code_is_not_flagged(grade_folder, submission, name, file, source):
    report = grade_folder(submission({file: source}), name)
    ex = exercise_of(report, name)
    assert ex["score"] == 10, [t["message"] for t in _failing(ex)][:3]


@pytest.mark.slow
def test_model_answers_and_the_graders_own_torch_use_are_not_flagged(grade_folder):
    """Exercises 6, 7 and 9 build nn.Linear, nn.Sequential and torch.optim.SGD in the worker."""
    report = grade_folder(ROOT / "solutions", *[f"exercise{i}" for i in range(1, 10)])
    for ex in report["exercises"]:
        assert ex["score"] == 10, (ex["name"], [t["message"] for t in _failing(ex)][:3])
    for ex in report["exercises"]:
        assert not forbidden.scan(ROOT / "solutions" / ex["file"], lookup(ex["name"]))


# -- the static scan on its own (fast) -------------------------------------------------


def _scan(tmp_path, name, source):
    ex = lookup(name)
    p = tmp_path / ex.file
    p.write_text(textwrap.dedent(source))
    return forbidden.scan(p, ex)


def test_scan_resolves_aliases_and_ignores_comments_strings_and_own_names(tmp_path):
    found = _scan(
        tmp_path,
        "exercise1",
        """\
        import torch.nn.functional as fun
        from torch.special import softmax as s2   # imported, flagged where used
        # fun.softmax(x) in a comment
        '''torch.softmax in a docstring'''
        def softmax(x):
            y = softmax  # the student's own function
            return fun.softmax(x, -1) + s2(x, -1)
        """,
    )
    assert [(f["call"], f["line"]) for f in found] == [
        ("torch.nn.functional.softmax", 7),
        ("torch.special.softmax", 7),
    ] or {(f["call"], f["line"]) for f in found} == {("torch.nn.functional.softmax", 7), ("torch.special.softmax", 7)}


def test_scan_exercise8_only_inside_backward(tmp_path):
    found = _scan(
        tmp_path,
        "exercise8",
        """\
        import torch
        def helper(loss):
            loss.backward()          # not in MatMul.backward: not counted statically
        class MatMul(torch.autograd.Function):
            @staticmethod
            def forward(ctx, X, Y):
                return torch.autograd.grad  # forward may use anything
            @staticmethod
            def backward(ctx, grad):
                g = torch.autograd.grad
                return grad, grad
        """,
    )
    assert [(f["call"], f["line"]) for f in found] == [("torch.autograd.grad", 10)]


def test_scan_exercise7_allows_the_optimizer_base_class(tmp_path):
    found = _scan(
        tmp_path,
        "exercise7",
        """\
        import torch
        class SGD(torch.optim.Optimizer):
            pass
        class Other(torch.optim.RMSprop):
            pass
        """,
    )
    assert [(f["call"], f["line"]) for f in found] == [("torch.optim.RMSprop", 4)]


def test_exercise9_forbids_nothing(tmp_path):
    assert forbidden.worker_spec(lookup("exercise9")) is None
    assert _scan(tmp_path, "exercise9", "import torch\nopt = torch.optim.SGD\nx = torch.softmax\n") == []


def test_every_exercise_with_rules_explains_them():
    for i in range(1, 9):
        r = forbidden.rules(lookup(f"exercise{i}"))
        assert r["reason"].startswith(f"exercise {i} asks you") and r["instead"], i
