"""Plain PyTorch engine: one process, or DistributedDataParallel over the default process group."""

from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator, MutableMapping, Sequence

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from slr_train.compiling import CompiledModel
from slr_train.config import EngineConfig, OptimConfig, PrecisionConfig
from slr_train.distributed import DistEnv
from slr_train.engines.base import Engine, StepResult, model_inputs
from slr_train.param_groups import assign_param_groups, optimizer_param_groups


class TorchEngine(Engine):
    """AdamW (layer-decay groups) + optional DDP + bf16 autocast + grad-norm clipping.

    Gradients of micro-batches before the last one of a step are accumulated locally
    (``DDP.no_sync``) and all-reduced once, on the last backward.

    ``compile``: the forward runs through :class:`~slr_train.compiling.CompiledModel` (``compiled``),
    built around the inner module before DDP wraps it (compile, then wrap); ``module`` stays the
    uncompiled model, so checkpoints hold its plain ``state_dict``.
    """

    def __init__(self, model: nn.Module, optim: OptimConfig, precision: PrecisionConfig, env: DistEnv,
                 engine: EngineConfig | None = None, compile: bool = False) -> None:
        engine = engine or EngineConfig()
        self.env = env
        self.module = model.to(env.device)
        groups = assign_param_groups(model, weight_decay=optim.weight_decay, layer_decay=optim.layer_decay)
        self.params = [p for g in groups for p in g.params]
        self.optimizer = torch.optim.AdamW(optimizer_param_groups(groups, optim.lr), lr=optim.lr,
                                           betas=optim.betas, eps=optim.eps)
        self.clip_grad_norm = optim.clip_grad_norm
        self.autocast_dtype = torch.bfloat16 if precision.dtype == "bf16" else None
        self.compiled = CompiledModel(model) if compile else None
        inner: nn.Module = self.compiled if self.compiled is not None else model
        if env.distributed:
            device_ids = [env.device.index] if env.device.type == "cuda" else None
            self.wrapped: nn.Module = DistributedDataParallel(
                inner, device_ids=device_ids, find_unused_parameters=engine.find_unused_parameters)
        else:
            self.wrapped = inner
        self._sync = True

    @property
    def param_groups(self) -> Sequence[MutableMapping[str, Any]]:
        return self.optimizer.param_groups

    @contextlib.contextmanager
    def micro_batch(self, last: bool) -> Iterator[None]:
        if last or not isinstance(self.wrapped, DistributedDataParallel):
            yield
        else:
            with self.wrapped.no_sync():
                yield

    def forward(self, batch: Any) -> Any:
        if hasattr(batch, "to"):
            batch = batch.to(self.device)
        args, kwargs = model_inputs(batch)
        with torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.float32,
                            enabled=self.autocast_dtype is not None):
            return self.wrapped(*args, **kwargs)

    def backward(self, loss: torch.Tensor) -> None:
        if self.compiled is not None:
            self.compiled.backward(loss)  # CompileFallback if the first compiled backward fails
        else:
            loss.backward()

    def step(self, skip: bool = False) -> StepResult:
        if skip:
            self.optimizer.zero_grad(set_to_none=True)
            return StepResult(applied=False, grad_norm=math.nan)
        max_norm = self.clip_grad_norm if self.clip_grad_norm > 0 else math.inf
        grads = [p for p in self.params if p.grad is not None]
        norm = float(torch.nn.utils.clip_grad_norm_(grads, max_norm)) if grads else 0.0
        if not math.isfinite(norm):  # identical on every rank: gradients were all-reduced
            self.optimizer.zero_grad(set_to_none=True)
            return StepResult(applied=False, grad_norm=norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return StepResult(applied=True, grad_norm=norm)

    def state_dict(self) -> dict[str, Any]:
        return {"kind": "ddp", "model": self.module.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != "ddp":
            raise ValueError(f"checkpoint was written by the {state.get('kind')!r} engine, not 'ddp'")
        self.module.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
