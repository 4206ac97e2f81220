"""Fixtures for the slr-models tests (names prefixed ``models_`` to avoid clashes across packages)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

TESTKIT = Path(__file__).parent / "testkit"
if str(TESTKIT) not in sys.path:
    sys.path.insert(0, str(TESTKIT))


@pytest.fixture
def models_seed() -> int:
    """Seed torch's global RNG so every test is deterministic; returns the seed."""
    torch.manual_seed(1234)
    return 1234


def make_ssd_inputs(b=2, l=23, h=4, p=3, g=2, n=5, dtype=torch.float64, requires_grad=False):
    """Random, well-conditioned SSD inputs: x, dt (pre-softplus), A < 0, B, C, D, z, dt_bias, init."""
    gen = torch.Generator().manual_seed(7)

    def r(*shape, scale=1.0):
        return (torch.randn(*shape, generator=gen, dtype=torch.float64) * scale).to(dtype)

    inputs = dict(
        x=r(b, l, h, p),
        dt=r(b, l, h, scale=0.5),
        A=-(torch.rand(h, generator=gen, dtype=torch.float64) * 1.5 + 0.2).to(dtype),
        B=r(b, l, g, n),
        C=r(b, l, g, n),
        D=r(h),
        z=r(b, l, h, p),
        dt_bias=r(h, scale=0.5),
        initial_states=r(b, h, p, n),
    )
    if requires_grad:
        for t in inputs.values():
            t.requires_grad_(True)
    return inputs


def packed_seq_idx(lengths: list[int], batch: int = 1) -> torch.Tensor:
    """``(batch, sum(lengths))`` int32 segment ids 0, 0, ..., 1, 1, ... for packed sequences."""
    ids = torch.repeat_interleave(torch.arange(len(lengths)), torch.tensor(lengths))
    return ids.to(torch.int32).unsqueeze(0).expand(batch, -1).contiguous()


@pytest.fixture
def models_ssd_inputs():
    """Factory fixture: ``models_ssd_inputs(b=.., l=.., ...)`` -> dict of SSD inputs (see ``make_ssd_inputs``)."""
    return make_ssd_inputs


@pytest.fixture
def models_packed_seq_idx():
    """Factory fixture: ``models_packed_seq_idx([3, 5], batch=1)`` -> packed int32 segment ids."""
    return packed_seq_idx
