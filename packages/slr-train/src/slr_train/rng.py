"""Capture and restore every RNG (Python, NumPy, torch CPU, CUDA) as tensors and primitives.

The result only holds tensors, ints, floats, strings and lists, so it survives
``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture_rng_state(include_cuda: bool = True) -> dict[str, Any]:
    version, mt_state, gauss_next = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_cached = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {"version": int(version), "state": torch.tensor(mt_state, dtype=torch.int64),
                   "gauss_next": gauss_next},
        "numpy": {"name": str(np_name), "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "cached_gaussian": float(np_cached)},
        "torch": torch.get_rng_state(),
        "cuda": [],
    }
    if include_cuda and torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss_next"]))
    n = state["numpy"]
    np.random.set_state((n["name"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available():
        if len(cuda) != torch.cuda.device_count():
            raise RuntimeError(f"checkpoint has {len(cuda)} CUDA RNG states, this machine {torch.cuda.device_count()} GPUs")
        torch.cuda.set_rng_state_all(cuda)


class preserved_rng:
    """Context manager: RNG states are restored on exit (evaluation must not perturb training).

    ``include_cuda=False`` leaves the CUDA generators alone (cheaper, for CPU-side data loading).
    """

    def __init__(self, include_cuda: bool = True) -> None:
        self.include_cuda = include_cuda

    def __enter__(self) -> "preserved_rng":
        self._state = capture_rng_state(self.include_cuda)
        return self

    def __exit__(self, *exc: object) -> None:
        restore_rng_state(self._state)
