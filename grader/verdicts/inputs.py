"""The tests' inputs: made in the grader's process from the test's seeded generator and sent to
the worker as plain data."""

from __future__ import annotations

import pytest
import torch

DTYPES = [pytest.param(torch.float32, id="float32"), pytest.param(torch.float64, id="float64")]


def randn(rng: torch.Generator, shape, dtype=torch.float32, device="cpu", scale: float = 1.0) -> torch.Tensor:
    """Seeded normal values (made on the CPU so every device sees the same numbers)."""
    return (torch.randn(shape, generator=rng, dtype=torch.float64) * scale).to(dtype).to(device)


def randint(rng: torch.Generator, high: int, shape, device="cpu") -> torch.Tensor:
    return torch.randint(0, high, shape, generator=rng).to(device)
