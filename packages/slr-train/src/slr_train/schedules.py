"""Learning-rate and drop-path schedules, driven per optimiser step and state-dict-able."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, MutableMapping, Sequence

from torch import nn

from slr_train.config import OptimConfig


SCHEDULE_FORMULAS = ("slr", "mamba_slr")


@dataclass(frozen=True)
class CosineWarmup:
    """Linear warmup from ``warmup_lr`` to ``peak_lr`` over ``warmup_steps``, then cosine decay to ``min_lr``.

    ``lr(step)`` is the rate used by optimiser update number ``step`` (0-based). With ``W``
    warmup steps and ``N = total_steps``:

    * ``formula="slr"``: warmup ``warmup_lr + (peak_lr - warmup_lr) * (step + 1) / W`` (the
      first update already moves, update ``W - 1`` uses ``peak_lr``), then
      ``min_lr + (peak_lr - min_lr) / 2 * (1 + cos(pi * (step - W) / (N - W - 1)))``, so update
      ``N - 1`` uses ``min_lr``.
    * ``formula="mamba_slr"``: Mamba_SLR's ``utils.cosine_scheduler(peak_lr, min_lr, ...,
      start_warmup_value=warmup_lr)`` value for value: warmup ``numpy.linspace(warmup_lr,
      peak_lr, W)`` (update 0 uses ``warmup_lr``, update ``W - 1`` uses ``peak_lr``), then
      ``min_lr + 0.5 * (peak_lr - min_lr) * (1 + cos(pi * (step - W) / (N - W)))`` (it never
      quite reaches ``min_lr``).

    Updates from ``N`` on use ``min_lr``.
    """

    peak_lr: float
    total_steps: int
    warmup_steps: int = 0
    min_lr: float = 0.0
    warmup_lr: float = 0.0
    formula: str = "slr"

    def __post_init__(self) -> None:
        if self.total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {self.total_steps}")
        if not 0 <= self.warmup_steps:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if not 0 <= self.min_lr <= self.peak_lr:
            raise ValueError(f"need 0 <= min_lr <= peak_lr, got min_lr={self.min_lr}, peak_lr={self.peak_lr}")
        if self.warmup_lr < 0:
            raise ValueError(f"warmup_lr must be >= 0, got {self.warmup_lr}")
        if self.formula not in SCHEDULE_FORMULAS:
            raise ValueError(f"formula must be one of {SCHEDULE_FORMULAS}, got {self.formula!r}")

    def lr(self, step: int) -> float:
        if self.formula == "mamba_slr":
            return self._mamba_slr(step)
        if step < self.warmup_steps:
            return self.warmup_lr + (self.peak_lr - self.warmup_lr) * (step + 1) / self.warmup_steps
        decay_steps = max(1, self.total_steps - self.warmup_steps - 1)
        progress = min(1.0, (step - self.warmup_steps) / decay_steps)
        return self.min_lr + (self.peak_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))

    def _mamba_slr(self, step: int) -> float:
        # The same float operations, in the same order, as numpy.linspace and the list
        # comprehension of Mamba_SLR's utils.cosine_scheduler, so the values are bit-identical.
        warmup = self.warmup_steps
        if step >= self.total_steps:
            return self.min_lr
        if step < warmup:
            if warmup == 1:
                return float(self.warmup_lr)
            if step == warmup - 1:
                return float(self.peak_lr)  # linspace sets its endpoint exactly
            return step * ((self.peak_lr - self.warmup_lr) / (warmup - 1)) + self.warmup_lr
        i, n = step - warmup, self.total_steps - warmup
        return self.min_lr + 0.5 * (self.peak_lr - self.min_lr) * (1 + math.cos(math.pi * i / n))


def optimiser_schedule(optim: OptimConfig, steps_per_epoch: int, batch_size: int | None,
                       world_size: int) -> CosineWarmup:
    """The :class:`CosineWarmup` of a run: ``optim.epochs * steps_per_epoch`` updates, scaled rates.

    ``warmup_steps`` wins; otherwise ``warmup_epochs * steps_per_epoch`` rounded (``slr``) or
    truncated (``mamba_slr``, as its ``int(warmup_epochs * niter_per_ep)``). ``batch_size`` (per
    process) and ``world_size`` feed ``optim.lr_scaling`` (:meth:`OptimConfig.scaled_lrs`).
    """
    total = optim.epochs * steps_per_epoch
    warmup = optim.warmup_steps
    if warmup is None:
        exact = optim.warmup_epochs * steps_per_epoch
        warmup = int(exact) if optim.lr_schedule == "mamba_slr" else round(exact)
    lr, warmup_lr, min_lr = optim.scaled_lrs(batch_size, world_size)
    return CosineWarmup(lr, total, min(warmup, total), min_lr, warmup_lr, optim.lr_schedule)


def describe_schedule(schedule: CosineWarmup, optim: OptimConfig, batch_size: int | None, world_size: int) -> str:
    """One log line: the effective lr, warmup_lr and min_lr and where they come from."""
    scaling = "lr_scaling none"
    if optim.lr_scaling == "linear_256":
        scaling = (f"lr_scaling linear_256: x {optim.total_batch_size(batch_size, world_size)}/256, total batch = "
                   f"{batch_size} per process x {optim.grad_accum_steps} accumulation x {world_size} processes")
    return (f"learning rate: lr {schedule.peak_lr:.6g}, warmup_lr {schedule.warmup_lr:.6g}, min_lr "
            f"{schedule.min_lr:.6g} ({scaling}); {schedule.formula} schedule, {schedule.warmup_steps} warmup of "
            f"{schedule.total_steps} optimiser steps")


class LRScheduler:
    """Applies a :class:`CosineWarmup` to optimiser groups, scaled by each group's ``lr_scale``.

    ``groups`` is an object with ``.param_groups`` (an optimiser or an engine), read afresh at
    every update because ``Optimizer.load_state_dict`` replaces the group dicts, or a fixed list
    of group dicts. The scales are captured at construction. Call :meth:`step` after every
    optimiser update; ``state_dict`` holds the step count and the schedule.
    """

    def __init__(self, groups: Any, schedule: CosineWarmup) -> None:
        self._groups = groups
        self.schedule = schedule
        self.scales = [float(g.get("lr_scale", 1.0)) for g in self.param_groups]
        self.step_count = 0
        self.apply()

    @property
    def param_groups(self) -> Sequence[MutableMapping[str, Any]]:
        return self._groups.param_groups if hasattr(self._groups, "param_groups") else self._groups

    @property
    def lr(self) -> float:
        """Unscaled rate for the next update (the head's rate)."""
        return self.schedule.lr(self.step_count)

    def apply(self) -> None:
        lr = self.lr
        for group, scale in zip(self.param_groups, self.scales):
            group["lr"] = lr * scale

    def step(self) -> None:
        self.step_count += 1
        self.apply()

    def state_dict(self) -> dict[str, Any]:
        s = self.schedule
        return {"step_count": self.step_count, "peak_lr": s.peak_lr, "total_steps": s.total_steps,
                "warmup_steps": s.warmup_steps, "min_lr": s.min_lr, "warmup_lr": s.warmup_lr,
                "formula": s.formula, "scales": list(self.scales)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["scales"]) != len(self.scales):
            raise ValueError(f"scheduler state has {len(state['scales'])} groups, the optimiser has {len(self.scales)}")
        # warmup_lr and formula are absent from checkpoints written before they existed
        self.schedule = CosineWarmup(peak_lr=state["peak_lr"], total_steps=state["total_steps"],
                                     warmup_steps=state["warmup_steps"], min_lr=state["min_lr"],
                                     warmup_lr=state.get("warmup_lr", 0.0), formula=state.get("formula", "slr"))
        self.scales = [float(x) for x in state["scales"]]
        self.step_count = int(state["step_count"])
        self.apply()


@dataclass(frozen=True)
class DropPathSchedule:
    """Stochastic-depth maximum per optimiser step: ``constant`` or ``linear`` from 0 to ``max_rate``."""

    max_rate: float
    total_steps: int
    kind: str = "constant"

    def __post_init__(self) -> None:
        if self.kind not in ("constant", "linear"):
            raise ValueError(f"drop path schedule must be 'constant' or 'linear', got {self.kind!r}")

    def rate(self, step: int) -> float:
        if self.kind == "constant":
            return self.max_rate
        return self.max_rate * min(1.0, step / max(1, self.total_steps - 1))

    def apply(self, model: nn.Module, step: int) -> float:
        """Sets ``model.set_drop_path_rate(rate(step))`` and returns the rate."""
        rate = self.rate(step)
        if not hasattr(model, "set_drop_path_rate"):
            raise TypeError(f"{type(model).__name__} has no set_drop_path_rate(rate); cannot schedule drop path")
        model.set_drop_path_rate(rate)
        return rate
