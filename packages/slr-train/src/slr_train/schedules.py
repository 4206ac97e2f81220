"""Learning-rate and drop-path schedules, driven per optimiser step and state-dict-able."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, MutableMapping, Sequence

from torch import nn


@dataclass(frozen=True)
class CosineWarmup:
    """Linear warmup to ``peak_lr`` over ``warmup_steps``, then cosine decay to ``min_lr``.

    ``lr(step)`` is the rate used by optimiser update number ``step`` (0-based): the first warmup
    update uses ``peak_lr / warmup_steps``, update ``warmup_steps`` uses ``peak_lr``, update
    ``total_steps - 1`` is the last of the cosine, and later steps stay at ``min_lr``.
    """

    peak_lr: float
    total_steps: int
    warmup_steps: int = 0
    min_lr: float = 0.0

    def __post_init__(self) -> None:
        if self.total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {self.total_steps}")
        if not 0 <= self.warmup_steps:
            raise ValueError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        if not 0 <= self.min_lr <= self.peak_lr:
            raise ValueError(f"need 0 <= min_lr <= peak_lr, got min_lr={self.min_lr}, peak_lr={self.peak_lr}")

    def lr(self, step: int) -> float:
        if step < self.warmup_steps:
            return self.peak_lr * (step + 1) / self.warmup_steps
        decay_steps = max(1, self.total_steps - self.warmup_steps - 1)
        progress = min(1.0, (step - self.warmup_steps) / decay_steps)
        return self.min_lr + (self.peak_lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


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
                "warmup_steps": s.warmup_steps, "min_lr": s.min_lr, "scales": list(self.scales)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if len(state["scales"]) != len(self.scales):
            raise ValueError(f"scheduler state has {len(state['scales'])} groups, the optimiser has {len(self.scales)}")
        self.schedule = CosineWarmup(peak_lr=state["peak_lr"], total_steps=state["total_steps"],
                                     warmup_steps=state["warmup_steps"], min_lr=state["min_lr"])
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
