"""A zygote forks every worker, so it must never start CUDA: a CUDA started before a fork
fails in the child ("CUDA error: initialization error"), which on a GPU machine failed every
device test of every student in `grade batch` (found on an H100 by bench/gpu_check.sh).
autograd's engine starts CUDA on the first backward(), so the preload must not call it."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = r"""
import sys, torch
calls = []
real = torch.autograd.backward
torch.autograd.backward = lambda *a, **k: (calls.append(1), real(*a, **k))[1]
from grader.untrusted import worker
worker._preload()
print(len(calls), "torch._dynamo" in sys.modules, torch.cuda.is_initialized())
"""


def test_the_preload_warms_the_optimiser_without_backward():
    r = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    backward_calls, optimiser_warm, cuda_started = r.stdout.split()
    assert backward_calls == "0"
    assert optimiser_warm == "True"  # what the preload is for: torch.optim's first step's imports
    assert cuda_started == "False"


def test_the_grader_asks_nvml_not_cuda_whether_a_gpu_exists():
    r = subprocess.run(
        [sys.executable, "-c", "import os, grader; print(os.environ['PYTORCH_NVML_BASED_CUDA_CHECK'])"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.stdout.strip() == "1", r.stderr
