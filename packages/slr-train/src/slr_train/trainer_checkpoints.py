"""What the Trainer's checkpoints hold, and how a resumed run gets its parts back from one.

:func:`resumable_record` is a step or epoch checkpoint: everything a run needs to continue
exactly (the engine's model and optimiser, the trainer's counters and history, the learning-rate
schedule, the EMA, the non-finite guard, where the epoch stands and every rank's RNG state).
:func:`best_record` is a best checkpoint: only the winning weights (raw or EMA) and the dev WERs.
:func:`restore_resumed` loads a resumable record's counters, schedule, EMA and guard back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from slr_train import distributed as D
from slr_train.checkpoint_layout import CheckpointRecord
from slr_train.config import TrainConfig
from slr_train.ema import ModelEMA
from slr_train.engines import Engine
from slr_train.evaluation import EvalResult
from slr_train.nonfinite import NonFiniteGuard
from slr_train.rng import capture_rng_state
from slr_train.schedules import LRScheduler
from slr_train.trainer_state import BestRecord, TrainerState

_log = logging.getLogger("slr_train.trainer")  # the Trainer's logger


def resumable_record(kind: str, *, state: TrainerState, config: TrainConfig, extra: dict[str, Any],
                     engine: Engine, scheduler: LRScheduler, ema: ModelEMA | None, guard: NonFiniteGuard,
                     sampler: Any, env: D.DistEnv) -> CheckpointRecord:
    """Collective (the RNG states of every rank): a resumable checkpoint of everything."""
    return CheckpointRecord(
        kind=kind, step=state.global_step, epoch=state.epoch, config=config.to_dict(),
        extra=extra,
        engine=engine.state_dict() if env.is_main else {},
        trainer=state.state_dict(),
        scheduler=scheduler.state_dict(),
        ema=ema.state_dict() if ema is not None else None,
        nonfinite=guard.state_dict(),
        sampler=epoch_position(state, sampler),
        rng=D.all_gather_objects(capture_rng_state()),
        world_size=env.world_size,
    )


def epoch_position(state: TrainerState, sampler: Any) -> dict[str, Any]:
    """Where the epoch stands (what resume uses) and, for the record, the sampler's own state."""
    position: dict[str, Any] = {"epoch": state.epoch, "batch_in_epoch": state.batch_in_epoch,
                                "batches_per_epoch": state.batches_per_epoch}
    if hasattr(sampler, "state_dict"):
        try:
            position["sampler"] = sampler.state_dict(batches_consumed=state.batch_in_epoch)
        except TypeError:
            position["sampler"] = sampler.state_dict()
    return position


def best_record(best: BestRecord, results: Mapping[str, EvalResult], *, config: TrainConfig,
                extra: dict[str, Any], module: nn.Module, ema: ModelEMA | None) -> CheckpointRecord:
    """A best checkpoint: ``module``'s weights that ``best`` names (raw, or ``ema``'s), the dev WERs."""
    weights = ema.model_state_dict(module) if best.weights == "ema" and ema else module.state_dict()
    return CheckpointRecord(kind="best", step=best.step, epoch=best.epoch, config=config.to_dict(),
                            extra=extra, model=weights, weights=best.weights,
                            dev={f"wer_{k}": r.wer for k, r in results.items()} | {"wer": best.wer})


def restore_resumed(record: CheckpointRecord, path: Path, *, state: TrainerState, scheduler: LRScheduler,
                    ema: ModelEMA | None, guard: NonFiniteGuard, log: bool) -> None:
    """Loads ``record`` (read from ``path``) into the trainer's counters, schedule, EMA and guard.

    The data must give the batches per epoch it was saved with (else a ``RuntimeError``); a
    learning-rate schedule configured differently since (e.g. more epochs) replaces the saved one,
    at the saved step count, with a warning when ``log``.
    """
    saved = record.trainer
    if saved["batches_per_epoch"] != state.batches_per_epoch:
        raise RuntimeError(f"cannot resume from {path}: it has "
                           f"{saved['batches_per_epoch']} batches per epoch, the data now gives "
                           f"{state.batches_per_epoch} (different data, batch size or rank count)")
    state.load_state_dict(saved)
    configured = scheduler.schedule
    scheduler.load_state_dict(record.scheduler)
    if scheduler.schedule != configured and log:  # e.g. more epochs than before
        _log.warning("the learning-rate schedule changed since the checkpoint (%s -> %s); continuing at step "
                     "%d of the new one", scheduler.schedule, configured, scheduler.step_count)
    if scheduler.schedule != configured:
        scheduler.schedule = configured
        scheduler.apply()
    if ema is not None and record.ema is not None:
        ema.load_state_dict(record.ema)
    guard.load_state_dict(record.nonfinite)
