"""Rank-0 progress bar (tqdm) and TensorBoard scalars; other ranks get silent no-ops."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Mapping

_log = logging.getLogger(__name__)


class ProgressBar:
    """One bar per epoch with loss, lr, frames/s (and tqdm's ETA); disabled off rank 0."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None

    def start_epoch(self, epoch: int, total_steps: int, done_steps: int = 0) -> None:
        self.close()
        if self.enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total_steps, initial=done_steps, desc=f"epoch {epoch}", dynamic_ncols=True,
                             leave=True)

    def update(self, loss: float, lr: float, frames_per_s: float, skipped: int) -> None:
        if self._bar is not None:
            postfix = {"loss": f"{loss:.3f}", "lr": f"{lr:.2e}", "frames/s": f"{frames_per_s:.0f}"}
            if skipped:
                postfix["skipped"] = skipped
            self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class ScalarLogger:
    """TensorBoard ``SummaryWriter`` on rank 0 (created lazily), plus the Python logger."""

    def __init__(self, log_dir: str | Path | None, enabled: bool) -> None:
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.enabled = enabled and self.log_dir is not None
        self._writer: Any = None

    def scalars(self, values: Mapping[str, float], step: int) -> None:
        if not self.enabled:
            return
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.log_dir))
        for name, value in values.items():
            self._writer.add_scalar(name, value, global_step=step, walltime=time.time())

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
