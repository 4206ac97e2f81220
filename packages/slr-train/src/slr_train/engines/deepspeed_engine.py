"""DeepSpeed engine (optional extra ``slr-train[deepspeed]``): bf16 and ZeRO stages 0-2.

The Trainer owns gradient accumulation, clipping policy, the LR schedule and checkpoints, so the
DeepSpeed config is completed as follows: ``managed_gradient_accumulation: false`` (every
``step()`` is an update boundary), ``gradient_accumulation_steps: 1``, ``gradient_clipping`` from
``OptimConfig.clip_grad_norm``, ``bf16.enabled`` from ``PrecisionConfig`` with gradient-overflow
checks on (a NaN/inf loss then skips DeepSpeed's update, identically on every rank). A value in
the user's JSON that contradicts these raises ``DeepSpeedConfigError`` (a ``ValueError``) naming the file
and key.

Checkpoints are written in slr-train's own format (model + per-rank ZeRO optimiser partitions,
all loadable with ``weights_only=True``); DeepSpeed's pickle-based checkpoint files are not used.
Without a process group (plain ``python``), the engine creates a 1-process one and destroys it in
``close()``. On CPU ``DS_ACCELERATOR=cpu`` is set before the import and DeepSpeed's compiled ops are cached in
``TORCH_EXTENSIONS_DIR`` (default ``~/.cache/slr/torch_extensions``; the first build takes ~75 s).
"""

from __future__ import annotations

import json
import math
import os
import socket
from pathlib import Path
from typing import Any, Mapping, MutableMapping, Sequence

import torch
from torch import nn

from slr_train import distributed as D
from slr_train.config import DeepSpeedConfigError, EngineConfig, OptimConfig, PrecisionConfig
from slr_train.distributed import DistEnv
from slr_train.engines.base import Engine, StepResult, model_inputs
from slr_train.param_groups import assign_param_groups, optimizer_param_groups

_FORCED = {
    "managed_gradient_accumulation": False,
    "gradient_accumulation_steps": 1,
    "train_micro_batch_size_per_gpu": 1,
}


def import_deepspeed(use_cuda: bool | None = None) -> Any:
    """Imports DeepSpeed with the CPU accelerator when there is no CUDA (raises ImportError with advice)."""
    if use_cuda is None:
        use_cuda = torch.cuda.is_available()
    if not use_cuda:
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(Path.home() / ".cache" / "slr" / "torch_extensions"))
    try:
        import deepspeed
    except ImportError as e:
        raise ImportError("the deepspeed engine needs DeepSpeed: pip install 'slr-train[deepspeed]' "
                          "(deepspeed==0.19.8 installs beside torch 2.11 without changing it)") from e
    return deepspeed


def read_deepspeed_config(source: str | os.PathLike | Mapping[str, Any] | None) -> tuple[dict[str, Any], str]:
    """The user's DeepSpeed JSON (path or mapping) and a name for error messages."""
    if source is None:
        return {}, "<default deepspeed config>"
    if isinstance(source, Mapping):
        return json.loads(json.dumps(dict(source))), "<deepspeed config mapping>"
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise FileNotFoundError(f"{path}: cannot read DeepSpeed config ({e.strerror or e})") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DeepSpeedConfigError(f"invalid JSON in DeepSpeed config: {e.msg}", path, line=e.lineno) from e
    if not isinstance(data, dict):
        raise DeepSpeedConfigError(f"a DeepSpeed config must be a JSON object, got {type(data).__name__}", path)
    return data, str(path)


def resolve_deepspeed_config(engine: EngineConfig, optim: OptimConfig, precision: PrecisionConfig) -> dict[str, Any]:
    """The complete DeepSpeed config dict used by :class:`DeepSpeedEngine` (see module docstring)."""
    config, name = read_deepspeed_config(engine.deepspeed_config)
    for key, value in _FORCED.items():
        if key in config and config[key] != value:
            raise DeepSpeedConfigError(f"{key}={config[key]!r} is not supported; slr-train sets {value!r} "
                                       "(use optim.grad_accum_steps for accumulation)", name)
        config[key] = value
    clip = float(optim.clip_grad_norm) if optim.clip_grad_norm > 0 else 0.0
    if "gradient_clipping" in config and float(config["gradient_clipping"]) != clip:
        raise DeepSpeedConfigError(f"gradient_clipping={config['gradient_clipping']} contradicts "
                                   f"optim.clip_grad_norm={optim.clip_grad_norm}", name)
    config["gradient_clipping"] = clip
    want_bf16 = precision.dtype == "bf16"
    bf16 = dict(config.get("bf16", {}))
    if "enabled" in bf16 and bool(bf16["enabled"]) != want_bf16:
        raise DeepSpeedConfigError(f"bf16.enabled={bf16['enabled']} contradicts precision.dtype={precision.dtype!r}", name)
    if config.get("fp16", {}).get("enabled"):
        raise DeepSpeedConfigError("fp16 is not supported (use bf16 via precision.dtype='bf16')", name)
    if want_bf16:
        if bf16.get("check_grad_overflow") is False:
            raise DeepSpeedConfigError("bf16.check_grad_overflow=false would apply NaN updates; remove it", name)
        bf16.update(enabled=True, check_grad_overflow=True)
        config["bf16"] = bf16
    zero = dict(config.get("zero_optimization", {}))
    if engine.zero_stage is not None:
        zero["stage"] = engine.zero_stage
    stage = int(zero.get("stage", 0))
    if stage not in (0, 1, 2):
        raise DeepSpeedConfigError(f"zero_optimization.stage={stage} is not supported (0, 1 or 2)", name)
    if stage == 2 and zero.get("overlap_comm") is None:
        zero["overlap_comm"] = False
    zero["stage"] = stage
    config["zero_optimization"] = zero
    if not want_bf16 and stage == 0:
        raise DeepSpeedConfigError("fp32 with ZeRO stage 0 has no overflow check in DeepSpeed, so a NaN loss "
                                   "could not be skipped; use bf16 or ZeRO stage >= 1", name)
    config.setdefault("steps_per_print", 1 << 30)
    config.setdefault("wall_clock_breakdown", False)
    return config


def _primitive(value: Any) -> Any:
    """Keeps tensors and plain containers (weights_only-safe); drops DeepSpeed helper objects."""
    if torch.is_tensor(value) or value is None:
        return value
    for kind in (bool, int, float, str):  # IntEnum and friends become plain values
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            v = _primitive(v)
            if v is not _DROP:
                out[k] = v
        return out
    if isinstance(value, (list, tuple)):
        items = [_primitive(v) for v in value]
        if any(v is _DROP for v in items):
            return _DROP
        return type(value)(items) if isinstance(value, tuple) else items
    return _DROP


_DROP = object()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DeepSpeedEngine(Engine):
    """``deepspeed.initialize`` over AdamW with layer-decay groups; inputs cast to the model dtype."""

    def __init__(self, model: nn.Module, optim: OptimConfig, precision: PrecisionConfig, env: DistEnv,
                 engine: EngineConfig) -> None:
        deepspeed = import_deepspeed(env.device.type == "cuda")
        self._owns_group = not D.is_initialized()
        if self._owns_group:  # a plain `python` run: DeepSpeed still needs a (1-process) group
            os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
            os.environ.setdefault("MASTER_PORT", str(_free_port()))
            for key in ("RANK", "LOCAL_RANK"):
                os.environ.setdefault(key, "0")
            os.environ.setdefault("WORLD_SIZE", "1")
            D.init_distributed(use_cuda=env.device.type == "cuda")
        self.env = env
        self.ds_config = resolve_deepspeed_config(engine, optim, precision)
        model = model.to(env.device)
        groups = assign_param_groups(model, weight_decay=optim.weight_decay, layer_decay=optim.layer_decay)
        optimizer = torch.optim.AdamW(optimizer_param_groups(groups, optim.lr), lr=optim.lr,
                                      betas=optim.betas, eps=optim.eps)
        self.ds, self.optimizer, _, _ = deepspeed.initialize(model=model, optimizer=optimizer,
                                                             config=self.ds_config, dist_init_required=None)
        self.module = self.ds.module
        self.zero_stage = int(self.ds_config["zero_optimization"]["stage"])
        self.dtype = torch.bfloat16 if precision.dtype == "bf16" else torch.float32

    @property
    def param_groups(self) -> Sequence[MutableMapping[str, Any]]:
        return self.optimizer.param_groups

    def forward(self, batch: Any) -> Any:
        if hasattr(batch, "to"):
            batch = batch.to(self.device)
        args, kwargs = model_inputs(batch)
        cast = [a.to(self.dtype) if torch.is_tensor(a) and a.is_floating_point() else a for a in args]
        kwargs = {k: v.to(self.dtype) if torch.is_tensor(v) and v.is_floating_point() else v
                  for k, v in kwargs.items()}
        return self.ds(*cast, **kwargs)

    def backward(self, loss: torch.Tensor) -> None:
        self.ds.backward(loss, scale_wrt_gas=False)

    def step(self, skip: bool = False) -> StepResult:
        # A skipped step's loss was non-finite on some rank: its gradients are non-finite after the
        # reduction, so DeepSpeed's overflow check skips the update on every rank.
        self.ds.step()
        applied = bool(self.ds.was_step_applied())
        if skip and applied:
            raise RuntimeError("DeepSpeed applied an update although the loss was non-finite; "
                               "check that the DeepSpeed config keeps gradient-overflow checks on")
        norm = self.ds.get_global_grad_norm()
        norm = math.nan if norm is None else float(norm)
        return StepResult(applied=applied, grad_norm=norm if applied else math.nan)

    def state_dict(self) -> dict[str, Any]:
        state = {"kind": "deepspeed", "zero_stage": self.zero_stage, "model": self.module.state_dict()}
        if self.zero_stage == 0:
            state["optimizer"] = _primitive(self.optimizer.state_dict())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("kind") != "deepspeed" or state.get("zero_stage") != self.zero_stage:
            raise ValueError(f"checkpoint was written by engine {state.get('kind')!r} (ZeRO stage "
                             f"{state.get('zero_stage')}), not deepspeed with ZeRO stage {self.zero_stage}")
        self.module.load_state_dict(state["model"])
        if self.zero_stage == 0:
            self.optimizer.load_state_dict(state["optimizer"])

    def shard_state_dict(self) -> dict[str, Any] | None:
        if self.zero_stage == 0:
            return None
        return {"optimizer": _primitive(self.optimizer.state_dict())}

    def close(self) -> None:
        """Destroys the process group if this engine created it (DeepSpeed aborts otherwise)."""
        if self._owns_group:
            D.destroy_distributed()
            self._owns_group = False

    def load_shard_state_dict(self, shard: dict[str, Any]) -> None:
        # DeepSpeed indexes the list by data-parallel rank; the checkpoint was written by the same
        # number of ranks (checked on load), so this rank's own partition is all it reads.
        shards: list[Any] = [None] * self.env.world_size
        shards[self.env.rank] = shard["optimizer"]
        self.optimizer.load_state_dict(shards, load_optimizer_states=True, load_from_fp32_weights=True)
