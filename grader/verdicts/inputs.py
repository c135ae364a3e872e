"""The tests' inputs: made in the grader's process from the test's seeded generator and sent to
the worker as plain data."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

DTYPES = [pytest.param(torch.float32, id="float32"), pytest.param(torch.float64, id="float64")]


def randn(rng: torch.Generator, shape, dtype=torch.float32, device="cpu", scale: float = 1.0) -> torch.Tensor:
    """Seeded normal values (made on the CPU so every device sees the same numbers)."""
    return (torch.randn(shape, generator=rng, dtype=torch.float64) * scale).to(dtype).to(device)


def randint(rng: torch.Generator, high: int, shape, device="cpu") -> torch.Tensor:
    return torch.randint(0, high, shape, generator=rng).to(device)


ROW_SHAPES = {
    "1d": (7,),
    "2d": (13, 10),
    "batch64": (64, 10),
    "square": (6, 6),
    "3d": (3, 4, 6),
    "single": (1, 1),
    "batch1": (1, 6),
    "mid1": (3, 1, 4),
    "lead1": (1, 3, 5),
}
"""Shapes for a function along the last dimension ({case id: shape}; softmax's and log_softmax's):
one to three dimensions, a batch of one and of 64 (the batch size students hard-code), a last
dimension of one, and a size-1 dimension before the last in each position (what a bare .squeeze()
loses)."""


def normal_values(scale: float = 1.0, shape=None) -> Callable[..., tuple]:
    """The inputs of a function of one tensor (grader.verdicts.declared): x = randn(..., scale=scale),
    described as "normal values × scale" ("normal values" for 1).  Without ``shape``, a Checks'
    ``inputs``, (rng, shape, dtype, device) -> ([x], how); with it, a Case's, (rng, dtype, device)."""
    how = "normal values" if scale == 1 else f"normal values × {scale:g}"
    if shape is None:
        return lambda rng, shape, dtype, device: ([randn(rng, shape, dtype, device, scale=scale)], how)
    return lambda rng, dtype, device: ([randn(rng, shape, dtype, device, scale=scale)], how)


def one_tensor(rows: list, how: str) -> Callable[..., tuple]:
    """A Case's inputs (grader.verdicts.declared) that are fixed data: x = torch.tensor(rows) in the
    case's dtype and on its device, described as ``how``; (rng, dtype, device) -> ([x], how), the
    generator unused (a visible test on them shows the same rows to every student)."""
    return lambda rng, dtype, device: ([torch.tensor(rows, dtype=dtype, device=device)], how)
