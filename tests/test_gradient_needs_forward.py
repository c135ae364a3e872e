"""A gradient test earns points only if the forward it differentiates is right:
torch.autograd.gradcheck alone proves that backward matches forward, so the
gradient of a wrong function (an identity softmax) used to earn points."""

from __future__ import annotations

import pytest
from conftest import exercise_of

# Slow by design: each case grades a wrong forward in a worker.
pytestmark = pytest.mark.slow

IDENTITY_SOFTMAX = """
def softmax(x):
    return x
"""

IDENTITY_LOG_SOFTMAX = """
def log_softmax(x):
    return x.clone()
"""

# forward forgets the bias: the gradient with respect to X is still right for what it computes
LINEAR_NO_BIAS = """
import math
import torch
from torch import nn

class Linear(nn.Module):
    def __init__(self, in_dim, out_dim, bias=True, init_factor=2.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_dim, out_dim) * math.sqrt(init_factor / in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim)) if bias else None

    def forward(self, X):
        return X @ self.weight
"""

# twice the product, with the matching (self-consistent) backward
MATMUL_TWICE = """
import torch

class MatMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, X, Y):
        ctx.save_for_backward(X, Y)
        return 2 * (X @ Y)

    @staticmethod
    def backward(ctx, grad):
        X, Y = ctx.saved_tensors
        return 2 * (grad @ Y.T), 2 * (X.T @ grad)
"""

# ReLU that is the identity, with a backward that agrees with it
RELU_IDENTITY = """
from torch import nn

class ReLU(nn.Module):
    def forward(self, X):
        return X * 1.0
"""

CASES = {
    "exercise1": ("exercise1_softmax.py", IDENTITY_SOFTMAX, "test_gradcheck"),
    "exercise2": ("exercise2_log_softmax.py", IDENTITY_LOG_SOFTMAX, "test_gradcheck"),
    "exercise4": ("exercise4_linear.py", LINEAR_NO_BIAS, "test_gradcheck_input"),
    "exercise5": ("exercise5_relu.py", RELU_IDENTITY, "test_gradcheck"),
    "exercise8": ("exercise8_matmul.py", MATMUL_TWICE, "test_gradcheck"),
}


@pytest.mark.parametrize("name", CASES)
def test_gradient_of_a_wrong_forward_earns_nothing(name, submission, grade_folder):
    file, code, test = CASES[name]
    entry = exercise_of(grade_folder(submission({file: code}), name), name)
    (t,) = [t for t in entry["tests"] if t["name"] == test]
    assert t["status"] == "failed" and t["score"] == 0, t


def test_identity_softmax_scores_0(submission, grade_folder):
    entry = exercise_of(grade_folder(submission({"exercise1_softmax.py": IDENTITY_SOFTMAX}), "exercise1"), "exercise1")
    assert entry["score"] == 0, [(t["name"], t["score"]) for t in entry["tests"] if t["score"]]
    (t,) = [t for t in entry["tests"] if t["name"] == "test_gradcheck"]
    assert "checked only for a right forward" in t["message"] and "a wrong function" in t["hint"], t
