"""The model answers get every point; stubs and do-nothing files get none."""

import pytest

from grader.exercises import EXERCISES
from tests.conftest import ROOT

DO_NOTHING = {
    "exercise1_softmax.py": "def softmax(x):\n    pass\n",
    "exercise2_log_softmax.py": "def log_softmax(x):\n    pass\n",
    "exercise3_cross_entropy.py": """
        import torch
        def cross_entropy(logits, targets):
            pass
        class CrossEntropyLoss(torch.nn.Module):
            def forward(self, H, Y):
                pass
    """,
    "exercise4_linear.py": """
        import torch
        class Linear(torch.nn.Module):
            def __init__(self, in_dim, out_dim, bias=True, init_factor=2.0):
                super().__init__()
            def forward(self, X):
                pass
    """,
    "exercise5_relu.py": """
        import torch
        class ReLU(torch.nn.Module):
            def forward(self, X):
                pass
    """,
    "exercise6_sequential.py": """
        import torch
        class Sequential(torch.nn.Module):
            def __init__(self, *layers):
                super().__init__()
            def forward(self, X):
                pass
    """,
    "exercise7_sgd.py": """
        class SGD:
            def __init__(self, params, lr=1.0):
                pass
            def step(self):
                pass
            def zero_grad(self):
                pass
    """,
    "exercise8_matmul.py": """
        import torch
        class MatMul(torch.autograd.Function):
            @staticmethod
            def forward(ctx, X, Y):
                pass
            @staticmethod
            def backward(ctx, grad):
                pass
    """,
    "exercise9_epoch.py": """
        def loss_01(H, Y):
            pass
        def epoch(model, X_full, Y_full, opt=None, batch_size=100):
            pass
    """,
}


@pytest.fixture(scope="module")
def reports(zygote):
    from grader.harness.run import grade

    return {name: grade(EXERCISES, ROOT / name, zygote=zygote).to_dict() for name in ("solutions", "exercises")}


def test_model_answers_score_90_of_90(reports):
    r = reports["solutions"]
    lost = {
        e["name"]: [(t["name"], t["message"]) for t in e["tests"] if t["status"] not in ("passed", "skipped")]
        for e in r["exercises"]
        if e["score"] != 10
    }
    assert (r["score"], r["max_score"]) == (90.0, 90.0), lost


def test_stubs_score_0_of_90(reports):
    r = reports["exercises"]
    assert (r["score"], r["max_score"]) == (0.0, 90.0)
    for e in r["exercises"]:
        assert all("not implemented yet" in t["message"] for t in e["tests"] if t["status"] != "skipped"), e["name"]


def test_every_test_passes_and_none_is_skipped(reports):
    """No test is skipped for want of CUDA: GPU runs are part of the same tests (grader.harness.points)."""
    for e in reports["solutions"]["exercises"]:
        assert e["tests"], e["name"]
        for t in e["tests"]:
            assert t["status"] == "passed" and t["score"] == t["max_score"] > 0, (e["name"], t)


def test_do_nothing_files_earn_nothing(submission, zygote):
    from grader.harness.run import grade

    r = grade(EXERCISES, submission(DO_NOTHING), zygote=zygote).to_dict()
    earned = {
        e["name"]: [t["name"] for t in e["tests"] if t["status"] == "passed"] for e in r["exercises"] if e["score"] > 0
    }
    assert r["score"] == 0, earned
