"""Seeding and deterministic-algorithm settings."""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seeds Python's ``random``, NumPy's global RNG and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)


def configure_determinism(deterministic: bool = True, num_threads: int | None = None) -> None:
    """``torch.use_deterministic_algorithms`` (errors on CPU, warnings on CUDA where CTC's backward
    has no deterministic kernel), no cuDNN autotuning, and an optional fixed intra-op thread count."""
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=torch.cuda.is_available())
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
