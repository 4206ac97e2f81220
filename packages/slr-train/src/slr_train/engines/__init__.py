"""Training engines behind one interface: plain/DDP PyTorch and DeepSpeed."""

from __future__ import annotations

from torch import nn

from slr_train.config import EngineConfig, OptimConfig, PrecisionConfig
from slr_train.distributed import DistEnv
from slr_train.engines.base import Engine, StepResult, model_inputs
from slr_train.engines.torch_engine import TorchEngine


def build_engine(model: nn.Module, optim: OptimConfig, precision: PrecisionConfig, env: DistEnv,
                 engine: EngineConfig, compile: bool = False) -> Engine:
    """``engine.kind == "ddp"``: :class:`TorchEngine`; ``"deepspeed"``: ``DeepSpeedEngine`` (imported lazily).

    ``compile`` (the resolved ``train.compile``): the TorchEngine runs the forward through
    :class:`slr_train.compiling.CompiledModel`; DeepSpeed does not support it (``ValueError``).
    """
    if engine.kind == "ddp":
        return TorchEngine(model, optim, precision, env, engine, compile=compile)
    if compile:
        raise ValueError("compile: not supported with engine.kind='deepspeed'")
    if engine.kind == "deepspeed":
        from slr_train.engines.deepspeed_engine import DeepSpeedEngine

        return DeepSpeedEngine(model, optim, precision, env, engine)
    raise ValueError(f"unknown engine kind {engine.kind!r}")


__all__ = ["Engine", "StepResult", "TorchEngine", "build_engine", "model_inputs"]
