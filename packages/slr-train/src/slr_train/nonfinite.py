"""Skip optimiser steps whose loss is NaN/inf, agreeing across ranks; stop after too many in a row."""

from __future__ import annotations

import math
from typing import Any

import torch

from slr_train import distributed as D
from slr_train.errors import NonFiniteLossError


def is_finite_everywhere(loss: torch.Tensor | float) -> bool:
    """True when ``loss`` is finite on every rank (one all-reduce of a flag when distributed).

    Every rank must call it for every micro-batch, so all ranks take the same branch (skipping a
    backward on one rank only would deadlock DDP).
    """
    local_bad = not math.isfinite(float(loss.detach().float().item() if torch.is_tensor(loss) else loss))
    return not D.any_rank(local_bad)


class NonFiniteGuard:
    """Counts skipped steps; raises :class:`NonFiniteLossError` after ``max_consecutive`` in a row."""

    def __init__(self, max_consecutive: int) -> None:
        if max_consecutive < 1:
            raise ValueError(f"max_consecutive must be >= 1, got {max_consecutive}")
        self.max_consecutive = max_consecutive
        self.consecutive = 0
        self.total_skipped = 0

    def record(self, skipped: bool, *, step: int, context: str = "") -> None:
        """Call once per optimiser step with whether it was skipped."""
        if not skipped:
            self.consecutive = 0
            return
        self.consecutive += 1
        self.total_skipped += 1
        if self.consecutive >= self.max_consecutive:
            raise NonFiniteLossError(
                f"{self.consecutive} consecutive optimiser steps had a non-finite loss or gradient "
                f"(limit faults.max_consecutive_nonfinite={self.max_consecutive}, {self.total_skipped} skipped in "
                f"total) at step {step}; stopping. {context}".rstrip()
            )

    def state_dict(self) -> dict[str, Any]:
        return {"consecutive": self.consecutive, "total_skipped": self.total_skipped}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.consecutive = int(state["consecutive"])
        self.total_skipped = int(state["total_skipped"])
