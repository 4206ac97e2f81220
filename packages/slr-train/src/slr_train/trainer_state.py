"""The Trainer's own resumable counters, epoch history and best-by-dev-WER record."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from slr_train.checkpoint import load_checkpoint
from slr_train.checkpoint_layout import CheckpointRecord


@dataclass
class BestRecord:
    """Best dev WER so far: which weights (``"raw"`` or ``"ema"``) at which (1-based) epoch."""

    wer: float
    epoch: int
    step: int
    weights: str


@dataclass
class TrainerState:
    """``epoch``: completed epochs; ``batch_in_epoch``: batches of the current epoch already used."""

    epoch: int = 0
    batch_in_epoch: int = 0
    global_step: int = 0
    steps_per_epoch: int = 0
    batches_per_epoch: int = 0
    epoch_loss_sum: float = 0.0
    epoch_samples: int = 0
    epoch_skipped: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best: BestRecord | None = None

    def state_dict(self) -> dict[str, Any]:
        state = asdict(self)
        state["best"] = asdict(self.best) if self.best is not None else None
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            if key == "best":
                value = BestRecord(**value) if value is not None else None
            setattr(self, key, value)


def eval_model_state(checkpoint: CheckpointRecord | dict[str, Any] | str, weights: str = "auto",
                     ) -> dict[str, torch.Tensor]:
    """Model weights to evaluate from a checkpoint record, payload or path (loaded with
    ``weights_only``): :meth:`CheckpointRecord.model_state`.

    ``weights``: ``"auto"`` (a best checkpoint's winning weights; otherwise EMA when present),
    ``"raw"`` or ``"ema"``. Best checkpoints hold only their winning weights.
    """
    if isinstance(checkpoint, (str, bytes)) or hasattr(checkpoint, "__fspath__"):
        checkpoint = CheckpointRecord.from_payload(load_checkpoint(checkpoint), checkpoint)
    elif not isinstance(checkpoint, CheckpointRecord):
        checkpoint = CheckpointRecord.from_payload(checkpoint)
    return checkpoint.model_state(weights)
