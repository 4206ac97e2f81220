"""One optimiser step of the Trainer: a window of consecutive batches, then one update.

:func:`run_optimiser_step` runs the ``grad_accum_steps`` (or, at the end of an epoch, fewer)
batches of a step as micro-batches of the engine. The step's loss is the CTC loss of every
sample of those batches on every rank (each sample's negative log-likelihood, divided by its
target length with ``loss.reduction="mean_per_target"``), summed and divided by their number,
so N ranks x M micro-batches compute the gradient of exactly the same global batch as one
process would. A non-finite loss (on any rank) or gradient norm skips the update (every rank
still runs its backward, so the collectives stay in step). A failed first compiled backward
reruns the step once, eagerly.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import torch

from slr_train import distributed as D
from slr_train.compiling import CompileFallback
from slr_train.config import LossReduction
from slr_train.ema import ModelEMA
from slr_train.engines import Engine
from slr_train.losses import ctc_loss_sum
from slr_train.rng import capture_rng_state, restore_rng_state
from slr_train.schedules import DropPathSchedule, LRScheduler


@dataclass(frozen=True)
class WindowStep:
    """What one optimiser step did, over every rank.

    ``loss``: the mean loss per sample (``nan`` when the update was skipped); ``loss_sum`` and
    ``samples``: its sum and the samples of the window; ``frames``: their frames; ``grad_norm``:
    the total norm before clipping; ``applied``: the weights were updated (``False``: a non-finite
    loss or gradient norm skipped it); ``lr``: the learning rate of the step.
    """

    loss: float
    loss_sum: float
    samples: int
    frames: int
    grad_norm: float
    applied: bool
    lr: float


def run_optimiser_step(engine: Engine, window: list[Any], *, scheduler: LRScheduler, ema: ModelEMA | None,
                       drop_path: DropPathSchedule | None, step: int, reduction: LossReduction,
                       env: D.DistEnv) -> WindowStep:
    """Collective: one optimiser step over the batches of ``window`` (``step``: the steps done before).

    Sets the drop-path rate of the step, updates the EMA after an applied update and advances the
    learning-rate ``scheduler`` either way. A failed first compiled backward (``CompileFallback``:
    the model is eager now) reruns the step once from the same RNG state, in one process; with
    several ranks it is an error (their collectives would diverge).
    """
    once = functools.partial(_step_once, engine, window, scheduler=scheduler, ema=ema, drop_path=drop_path,
                             step=step, reduction=reduction, env=env)
    compiled = engine.compiled
    rng = capture_rng_state() if compiled is not None and compiled.on_probation else None
    try:
        return once()
    except CompileFallback as e:
        if env.distributed or rng is None:
            raise RuntimeError("torch.compile failed in the backward on this rank; rerun with "
                               "train.compile=false") from e
        restore_rng_state(rng)  # the eager rerun draws the same dropout masks
        return once()


def _step_once(engine: Engine, window: list[Any], *, scheduler: LRScheduler, ema: ModelEMA | None,
               drop_path: DropPathSchedule | None, step: int, reduction: LossReduction,
               env: D.DistEnv) -> WindowStep:
    if drop_path is not None:
        drop_path.apply(engine.module, step)
    local = torch.tensor([sum(len(b.lengths) for b in window), sum(int(b.lengths.sum()) for b in window)],
                         dtype=torch.float64)
    samples, frames = D.all_reduce_sum(local).tolist()
    if samples == 0:  # every sample of the window was dropped by the dataset (e.g. on_error="skip")
        raise RuntimeError(f"step {step + 1}: the batches of this step hold no samples on "
                           "any rank (all skipped by the dataset); check the data")
    scale = env.world_size / samples
    loss_sum, bad = 0.0, False
    engine.train()
    for i, batch in enumerate(window):
        with engine.micro_batch(last=i == len(window) - 1):
            loss = ctc_loss_sum(engine.forward(batch), batch, reduction=reduction)
            value = float(loss.detach())
            if math.isfinite(value):
                loss_sum += value
            else:
                bad = True
            # Backward even when non-finite: every rank runs the same collectives, and the
            # poisoned gradients are discarded by step(skip=True).
            engine.backward(loss * scale)
    reduced = D.all_reduce_sum(torch.tensor([loss_sum, 1.0 if bad else 0.0], dtype=torch.float64)).tolist()
    skip = reduced[1] > 0
    lr = scheduler.lr
    result = engine.step(skip=skip)
    if result.applied and ema is not None:
        ema.update(engine.module)
    scheduler.step()
    return WindowStep(loss=reduced[0] / samples if not skip else math.nan, loss_sum=reduced[0],
                      samples=int(samples), frames=int(frames), grad_norm=result.grad_norm,
                      applied=result.applied, lr=lr)
