"""slr-train test fixtures; the fakes live in testkit/slr_train_testkit.py (importable by workers)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTKIT = Path(__file__).parent / "testkit"
if str(TESTKIT) not in sys.path:
    sys.path.insert(0, str(TESTKIT))

import slr_train_testkit as kit  # noqa: E402


@pytest.fixture
def slr_train_kit():
    """The fake model / dataset / sampler / scorer module."""
    return kit


@pytest.fixture
def slr_train_tiny_config():
    """A TrainConfig for fast, deterministic CPU runs of the fake model."""
    from slr_train import (CheckpointConfig, EMAConfig, LoggingConfig, OptimConfig, PrecisionConfig,
                           TrainConfig)

    return TrainConfig(optim=OptimConfig(lr=3e-3, epochs=2, warmup_steps=2, min_lr=1e-5, grad_accum_steps=1),
                       precision=PrecisionConfig("fp32"), ema=EMAConfig(decay=0.99),
                       checkpoint=CheckpointConfig(every_steps=3, keep_last=2, resume="auto"),
                       logging=LoggingConfig(progress=False, tensorboard=False), seed=0, deterministic=True)
