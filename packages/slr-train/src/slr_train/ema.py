"""Exponential moving average of model weights (parameters averaged, buffers copied)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import torch
from torch import nn

from slr_train.param_groups import unwrap_model


class ModelEMA:
    """Float32 shadow of a model's parameters, ``ema = d * ema + (1 - d) * param`` per update.

    Works with DDP/DeepSpeed-wrapped models (the ``.module`` is used) and with bf16 weights (the
    shadow stays float32). Buffers (e.g. BatchNorm statistics) are copied, not averaged. With
    ``warmup`` the decay after ``n`` updates is ``min(decay, (1 + n) / (10 + n))``.
    """

    def __init__(self, model: nn.Module, decay: float = 0.9999, warmup: bool = True) -> None:
        if not 0 <= decay < 1:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = float(decay)
        self.warmup = bool(warmup)
        self.num_updates = 0
        module = unwrap_model(model)
        with torch.no_grad():
            self.params = {n: p.detach().float().clone() for n, p in module.named_parameters()}
            self.buffers = {n: b.detach().clone() for n, b in module.named_buffers()}

    def current_decay(self) -> float:
        if self.warmup:
            return min(self.decay, (1 + self.num_updates) / (10 + self.num_updates))
        return self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One EMA step from the model's current weights."""
        module = unwrap_model(model)
        weight = 1.0 - self.current_decay()
        shadows, sources = [], []
        for name, param in module.named_parameters():
            shadow = self.params.get(name)
            if shadow is None:
                raise KeyError(f"EMA has no shadow for parameter {name!r}; was the model changed after EMA creation?")
            shadows.append(shadow)
            sources.append(param.detach().to(device=shadow.device, dtype=torch.float32))
        if shadows:
            torch._foreach_lerp_(shadows, sources, weight)
        for name, buf in module.named_buffers():
            self.buffers[name].copy_(buf.detach())
        self.num_updates += 1

    def model_state_dict(self, like: nn.Module) -> dict[str, torch.Tensor]:
        """The EMA weights as a state dict of ``like`` (its dtypes), ready for ``load_state_dict``."""
        module = unwrap_model(like)
        state = module.state_dict()
        out = {}
        for key, value in state.items():
            source = self.params.get(key, self.buffers.get(key))
            out[key] = value.clone() if source is None else source.to(dtype=value.dtype, device=value.device).clone()
        return out

    @contextmanager
    def applied_to(self, model: nn.Module) -> Iterator[nn.Module]:
        """Temporarily loads the EMA weights into ``model`` (restored on exit, even on error)."""
        module = unwrap_model(model)
        backup = {k: v.detach().clone() for k, v in module.state_dict().items()}
        try:
            module.load_state_dict(self.model_state_dict(module))
            yield module
        finally:
            module.load_state_dict(backup)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "warmup": self.warmup, "num_updates": self.num_updates,
                "params": dict(self.params), "buffers": dict(self.buffers)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        missing = sorted(set(self.params) - set(state["params"]))
        unexpected = sorted(set(state["params"]) - set(self.params))
        if missing or unexpected:
            raise KeyError(f"EMA state does not match the model: missing {missing[:5]}, unexpected {unexpected[:5]}")
        self.decay = float(state["decay"])
        self.warmup = bool(state["warmup"])
        self.num_updates = int(state["num_updates"])
        with torch.no_grad():
            for name, value in state["params"].items():
                self.params[name].copy_(value)
            for name, value in state["buffers"].items():
                if name in self.buffers:
                    self.buffers[name].copy_(value)
