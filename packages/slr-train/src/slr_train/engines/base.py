"""The engine interface the Trainer drives: one optimiser step = N micro-batches + ``step()``.

Per optimiser step the Trainer does, for each of its micro-batches::

    with engine.micro_batch(last=i == n - 1):
        out = engine.forward(batch)          # CTCOutput, under the engine's precision
        loss = ...                           # float32 scalar, already normalised
        engine.backward(loss)                # gradients accumulate; synced on the last one
    result = engine.step(skip=any_nonfinite)  # clip, update (or skip), zero the gradients
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, MutableMapping, Sequence

import torch
from torch import nn

from slr_train.checkpoint import CheckpointInfo, CheckpointManager, load_checkpoint
from slr_train.checkpoint_layout import CheckpointRecord
from slr_train.errors import CheckpointError
from slr_train.distributed import DistEnv


@dataclass(frozen=True)
class StepResult:
    """``applied``: the weights were updated; ``grad_norm``: total norm before clipping (nan if skipped)."""

    applied: bool
    grad_norm: float


def model_inputs(batch: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword model arguments from a PackedBatch-like object."""
    kwargs: dict[str, Any] = {"seq_idx": getattr(batch, "seq_idx", None)}
    heatmaps = getattr(batch, "heatmaps", None)
    if heatmaps is not None:
        kwargs["heatmaps"] = heatmaps
    return (batch.frames, batch.lengths), kwargs


class Engine(ABC):
    """Owns the (wrapped) model and the optimiser; see the module docstring for the protocol."""

    env: DistEnv
    module: nn.Module  # the user's model, unwrapped (EMA, evaluation, drop path)
    compiled: nn.Module | None = None  # its compiled forward (train.compile), used by evaluation too

    @property
    def device(self) -> torch.device:
        return self.env.device

    @property
    @abstractmethod
    def param_groups(self) -> Sequence[MutableMapping[str, Any]]:
        """The optimiser's group dicts (the LR scheduler writes ``lr`` into them)."""

    @contextlib.contextmanager
    def micro_batch(self, last: bool) -> Iterator[None]:
        """Wraps forward + backward of one micro-batch; gradients are synchronised when ``last``."""
        yield

    @abstractmethod
    def forward(self, batch: Any) -> Any:
        """Moves ``batch`` to the device and runs the model (train mode) under the precision policy."""

    @abstractmethod
    def backward(self, loss: torch.Tensor) -> None:
        """Accumulates gradients of ``loss`` (already normalised by the Trainer)."""

    @abstractmethod
    def step(self, skip: bool = False) -> StepResult:
        """Clips and applies the accumulated gradients, or discards them when ``skip`` (or non-finite)."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Replicated state (model weights, unsharded optimiser state), saved by rank 0."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def shard_state_dict(self) -> dict[str, Any] | None:
        """Per-rank state (e.g. ZeRO optimiser partitions), or ``None`` when everything is replicated."""
        return None

    def load_shard_state_dict(self, shard: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no sharded state")

    def save(self, manager: CheckpointManager, extra: dict[str, Any], *, step: int, epoch: int,
             kind: str = "step", meta: dict[str, Any] | None = None) -> Path:
        """Collective: writes ``{**extra, "engine": state_dict()}`` (+ this rank's shard) atomically;
        ``extra`` is usually a :class:`~slr_train.checkpoint_layout.CheckpointRecord`'s payload, which
        may already hold the engine state."""
        payload = dict(extra)
        if "engine" not in payload:
            payload["engine"] = self.state_dict() if self.env.is_main else {}
        return manager.save(payload, shard=self.shard_state_dict(), step=step, epoch=epoch, kind=kind, meta=meta)

    def load(self, source: CheckpointInfo | str | Path, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Restores the engine from a checkpoint and returns the whole payload (for the rest of the state).

        ``payload``: the checkpoint's payload already loaded (``CheckpointManager.load_newest``).
        """
        path = source.path if isinstance(source, CheckpointInfo) else Path(source)
        if payload is None:
            payload = load_checkpoint(path, rank=self.env.rank)
        record = CheckpointRecord.from_payload(payload, path)  # CheckpointError naming a missing key
        if not record.resumable:
            raise CheckpointError("a best checkpoint holds no engine state; resume from a step or epoch "
                                  "checkpoint", path)
        self.load_state_dict(record.engine)
        if record.shard is not None:
            self.load_shard_state_dict(record.shard)
        return payload

    def train(self) -> None:
        self.module.train()

    def eval(self) -> None:
        self.module.eval()

    def close(self) -> None:
        """Releases engine resources (the process group is torn down by ``distributed_session``)."""
