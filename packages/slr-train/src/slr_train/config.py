"""Frozen dataclass configs of a training run.

Every config validates itself in ``__post_init__`` and raises ``ValueError`` naming the field.
``TrainConfig.to_dict()`` is plain JSON/YAML data and ``TrainConfig.from_dict(d)`` restores it
(unknown keys are an error, so a typo in a YAML file is reported instead of ignored). YAML parsing
itself belongs to the apps.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from slr_train.errors import DeepSpeedConfigError  # noqa: F401 (re-exported from its former home)
from slr_train.errors import TrainConfigError

EngineKind = Literal["ddp", "deepspeed"]
PrecisionKind = Literal["bf16", "fp32"]
InfeasiblePolicy = Literal["drop", "error"]
DropPathKind = Literal["constant", "linear"]
LRScaling = Literal["none", "linear_256"]
LRScheduleKind = Literal["slr", "mamba_slr"]
LossReduction = Literal["sum", "mean_per_target"]
InitWeights = Literal["auto", "raw", "ema"]
InitRemap = Literal["auto", "mamba_slr", "none"]
EMAEvaluate = Literal["both", "ema", "raw"]
CompileSetting = bool | Literal["auto"]


def _check(condition: bool, name: str, message: str) -> None:
    if not condition:
        raise TrainConfigError(f"{name}: {message}")


@dataclass(frozen=True)
class OptimConfig:
    """AdamW with layer-wise lr decay, cosine schedule with linear warmup, clipping, accumulation.

    ``lr`` is the peak learning rate of the last layer (head); layer ``i`` of ``n`` decay layers
    gets ``lr * layer_decay ** (n - 1 - i)``. ``warmup_steps`` (optimiser steps) wins over
    ``warmup_epochs`` when both are set. ``clip_grad_norm <= 0`` disables clipping.

    The warmup rises linearly from ``warmup_lr`` to ``lr``, then a cosine falls to ``min_lr``.
    ``lr_schedule`` picks the exact per-step formula (:class:`slr_train.CosineWarmup`): ``slr``
    (the default: the first update already uses ``warmup_lr + (lr - warmup_lr) / warmup``, the
    last update uses ``min_lr``; warmup epochs are rounded to steps) or ``mamba_slr`` (the values
    of Mamba_SLR's ``utils.cosine_scheduler``: ``linspace(warmup_lr, lr, warmup)`` then
    ``min_lr + (lr - min_lr) / 2 * (1 + cos(pi * i / (total - warmup)))``; warmup epochs are
    truncated to steps as there).

    ``lr_scaling``: ``none`` uses ``lr``, ``warmup_lr`` and ``min_lr`` as given; ``linear_256``
    multiplies all three by ``total_batch / 256`` (Mamba_SLR's ``main.py``), ``total_batch`` =
    per-process batch size (``TrainSet.batch_size``) x ``grad_accum_steps`` x world size. The
    validation below applies to the values as given; :meth:`scaled_lrs` gives the used ones.
    """

    lr: float = 1e-3
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.05
    layer_decay: float = 0.75
    clip_grad_norm: float = 5.0
    grad_accum_steps: int = 1
    epochs: int = 40
    warmup_epochs: float = 1.0
    warmup_steps: int | None = None
    min_lr: float = 1e-6
    drop_path_rate: float | None = None
    drop_path_schedule: DropPathKind = "constant"
    warmup_lr: float = 0.0
    lr_schedule: LRScheduleKind = "slr"
    lr_scaling: LRScaling = "none"

    def __post_init__(self) -> None:
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        _check(self.lr > 0, "optim.lr", f"must be > 0, got {self.lr}")
        _check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas), "optim.betas",
               f"must be two numbers in [0, 1), got {self.betas}")
        _check(self.eps > 0, "optim.eps", f"must be > 0, got {self.eps}")
        _check(self.weight_decay >= 0, "optim.weight_decay", f"must be >= 0, got {self.weight_decay}")
        _check(0 < self.layer_decay <= 1, "optim.layer_decay", f"must be in (0, 1], got {self.layer_decay}")
        _check(self.grad_accum_steps >= 1, "optim.grad_accum_steps", f"must be >= 1, got {self.grad_accum_steps}")
        _check(self.epochs >= 1, "optim.epochs", f"must be >= 1, got {self.epochs}")
        _check(self.warmup_epochs >= 0, "optim.warmup_epochs", f"must be >= 0, got {self.warmup_epochs}")
        _check(self.warmup_steps is None or self.warmup_steps >= 0, "optim.warmup_steps",
               f"must be >= 0, got {self.warmup_steps}")
        _check(0 <= self.min_lr <= self.lr, "optim.min_lr", f"must be in [0, lr={self.lr}], got {self.min_lr}")
        _check(self.drop_path_rate is None or 0 <= self.drop_path_rate < 1, "optim.drop_path_rate",
               f"must be in [0, 1), got {self.drop_path_rate}")
        _check(self.drop_path_schedule in ("constant", "linear"), "optim.drop_path_schedule",
               f"must be 'constant' or 'linear', got {self.drop_path_schedule!r}")
        _check(0 <= self.warmup_lr <= self.lr, "optim.warmup_lr",
               f"must be in [0, lr={self.lr}], got {self.warmup_lr}")
        _check(self.lr_schedule in ("slr", "mamba_slr"), "optim.lr_schedule",
               f"must be 'slr' or 'mamba_slr', got {self.lr_schedule!r}")
        _check(self.lr_scaling in ("none", "linear_256"), "optim.lr_scaling",
               f"must be 'none' or 'linear_256', got {self.lr_scaling!r}")

    def total_batch_size(self, batch_size: int | None, world_size: int) -> int | None:
        """Videos per optimiser step (nominal): ``batch_size x grad_accum_steps x world_size``."""
        return None if batch_size is None else batch_size * self.grad_accum_steps * world_size

    def scaled_lrs(self, batch_size: int | None, world_size: int) -> tuple[float, float, float]:
        """``(lr, warmup_lr, min_lr)`` after ``lr_scaling``, for ``batch_size`` videos per process.

        ``linear_256`` needs the per-process batch size; ``None`` (batches formed by a frame
        budget only) raises ``ValueError`` naming ``optim.lr_scaling``.
        """
        if self.lr_scaling == "none":
            return self.lr, self.warmup_lr, self.min_lr
        total = self.total_batch_size(batch_size, world_size)
        if total is None:
            raise TrainConfigError(
                "optim.lr_scaling: 'linear_256' scales by the total batch size, which needs a fixed "
                "per-process batch size (TrainSet.batch_size); batches formed by a frame budget alone have none"
            )
        # (value * total) / 256, in Mamba_SLR's order of operations: bit-identical values
        return self.lr * total / 256, self.warmup_lr * total / 256, self.min_lr * total / 256


@dataclass(frozen=True)
class PrecisionConfig:
    """``bf16``: autocast to bfloat16 (CPU and CUDA; DeepSpeed: its bf16 mode); ``fp32``: none."""

    dtype: PrecisionKind = "bf16"

    def __post_init__(self) -> None:
        _check(self.dtype in ("bf16", "fp32"), "precision.dtype", f"must be 'bf16' or 'fp32', got {self.dtype!r}")


@dataclass(frozen=True)
class EMAConfig:
    """Exponential moving average of the weights, evaluated alongside the raw weights.

    With ``warmup`` the effective decay is ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates,
    so short runs still get a useful average.

    ``evaluate``: which weights are scored on dev after each epoch and may become the best
    checkpoint (whose weights the final test uses): ``both`` (raw and EMA, the better one wins),
    ``ema`` or ``raw`` only (half the dev decoding; the EMA is still kept and checkpointed).
    ``ema`` needs ``enabled``.
    """

    enabled: bool = True
    decay: float = 0.9999
    warmup: bool = True
    evaluate: EMAEvaluate = "both"

    def __post_init__(self) -> None:
        _check(0 <= self.decay < 1, "ema.decay", f"must be in [0, 1), got {self.decay}")
        _check(self.evaluate in ("both", "ema", "raw"), "ema.evaluate",
               f"must be 'both', 'ema' or 'raw', got {self.evaluate!r}")
        _check(self.enabled or self.evaluate != "ema", "ema.evaluate",
               "'ema' evaluates the EMA weights, but ema.enabled is false")


@dataclass(frozen=True)
class CheckpointConfig:
    """Checkpoints every ``every_steps`` optimiser steps (0: never) and at every epoch end.

    The newest ``keep_last`` step/epoch checkpoints are kept; ``best`` (by dev WER) is separate.
    ``resume``: ``"auto"`` (the newest valid checkpoint in the directory, invalid ones skipped
    with a warning; a fresh start when there is none at all, an error when all are invalid),
    ``None`` or ``"none"`` (fresh start; stored as ``None``) or a path to a checkpoint file (no
    fallback: an invalid one is an error).
    """

    every_steps: int = 0
    keep_last: int = 2
    resume: str | None = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.resume, str) and self.resume.strip().lower() == "none":
            object.__setattr__(self, "resume", None)
        _check(self.resume is None or (isinstance(self.resume, str) and self.resume.strip() != ""),
               "checkpoint.resume", f"must be 'auto', 'none'/null or a checkpoint path, got {self.resume!r}")
        _check(self.every_steps >= 0, "checkpoint.every_steps", f"must be >= 0, got {self.every_steps}")
        _check(self.keep_last >= 1, "checkpoint.keep_last", f"must be >= 1, got {self.keep_last}")


@dataclass(frozen=True)
class EngineConfig:
    """``ddp``: plain PyTorch (DistributedDataParallel when the world has several ranks).

    ``deepspeed``: ``deepspeed_config`` is a JSON file path or a mapping; ``zero_stage`` (0-2)
    overrides the stage found there.
    """

    kind: EngineKind = "ddp"
    deepspeed_config: str | Mapping[str, Any] | None = None
    zero_stage: int | None = None
    find_unused_parameters: bool = False

    def __post_init__(self) -> None:
        _check(self.kind in ("ddp", "deepspeed"), "engine.kind", f"must be 'ddp' or 'deepspeed', got {self.kind!r}")
        _check(self.zero_stage is None or self.zero_stage in (0, 1, 2), "engine.zero_stage",
               f"must be 0, 1 or 2, got {self.zero_stage}")
        if isinstance(self.deepspeed_config, Mapping):
            # Freeze a private copy, so later mutation of the caller's dict cannot change the run.
            object.__setattr__(self, "deepspeed_config", json.loads(json.dumps(dict(self.deepspeed_config))))


@dataclass(frozen=True)
class LoggingConfig:
    """Rank-0 tqdm bar (``progress``), TensorBoard scalars every ``log_every_steps`` steps."""

    progress: bool = True
    tensorboard: bool = True
    log_every_steps: int = 10

    def __post_init__(self) -> None:
        _check(self.log_every_steps >= 1, "logging.log_every_steps", f"must be >= 1, got {self.log_every_steps}")


@dataclass(frozen=True)
class FaultConfig:
    """``max_consecutive_nonfinite`` skipped steps in a row stop the run with ``NonFiniteLossError``.

    ``ctc_infeasible``: what to do with samples CTC cannot align (``"drop"`` them with a report,
    or raise ``CTCInfeasibleError``).
    """

    max_consecutive_nonfinite: int = 10
    ctc_infeasible: InfeasiblePolicy = "drop"

    def __post_init__(self) -> None:
        _check(self.max_consecutive_nonfinite >= 1, "faults.max_consecutive_nonfinite",
               f"must be >= 1, got {self.max_consecutive_nonfinite}")
        _check(self.ctc_infeasible in ("drop", "error"), "faults.ctc_infeasible",
               f"must be 'drop' or 'error', got {self.ctc_infeasible!r}")


@dataclass(frozen=True)
class LoaderConfig:
    """DataLoader workers; ``eval_batch_size`` videos per evaluation batch."""

    num_workers: int = 0
    pin_memory: bool = False
    eval_batch_size: int = 8

    def __post_init__(self) -> None:
        _check(self.num_workers >= 0, "loader.num_workers", f"must be >= 0, got {self.num_workers}")
        _check(self.eval_batch_size >= 1, "loader.eval_batch_size", f"must be >= 1, got {self.eval_batch_size}")


@dataclass(frozen=True)
class LossConfig:
    """How the CTC loss (blank 0, float32, no ``zero_infinity``) of an optimiser step is reduced.

    ``sum``: each sample's negative log-likelihood, averaged over the samples of the step.
    ``mean_per_target``: each sample's negative log-likelihood divided by its target length
    (at least 1), averaged over the samples of the step, i.e. ``torch.nn.CTCLoss(blank=0)``'s
    default ``reduction="mean"`` as Mamba_SLR trains with. "The samples of the step" are all of
    them: every micro-batch of the gradient accumulation on every rank, each weighing the same.
    Mamba_SLR averages each micro-batch, then the micro-batches and ranks; the two agree
    whenever every micro-batch holds the same number of videos (a fixed batch size).
    """

    reduction: LossReduction = "sum"

    def __post_init__(self) -> None:
        _check(self.reduction in ("sum", "mean_per_target"), "loss.reduction",
               f"must be 'sum' or 'mean_per_target', got {self.reduction!r}")


@dataclass(frozen=True)
class InitFromConfig:
    """Start a fresh run from the weights in ``path`` (see :mod:`slr_train.init_from`).

    Unlike ``checkpoint.resume`` only the model weights are taken (optimiser, schedule, EMA
    history and epoch start afresh; the EMA starts at the loaded weights), and only when the run
    does not resume from a checkpoint of its own. ``path``: an slr-train checkpoint (``weights``
    picks ``raw``/``ema``; ``auto`` as :func:`slr_train.eval_model_state`), or a ``.pth`` file
    holding a state dict, directly or under the first of ``keys`` it has (Mamba_SLR's
    ``--model_key`` order ``model_ema``, ``model``, then DeepSpeed's ``module``). ``prefix``: only
    file keys starting with it are used, without it. ``remap``: ``auto`` renames Mamba_SLR
    image-backbone keys (``layers.N.mixer.*`` -> ``layers.N.spatial_mixer.*``, ``layers.N.norm.*``
    -> ``layers.N.spatial_norm.*``, ``layers.N.norm2.*`` -> ``layers.N.mlp_norm.*``) where the
    model has the new name and not the old one; ``mamba_slr`` always renames them (as
    Mamba_SLR's ``main.py --finetune``); ``none`` never does. Tensors under ``head_prefix`` whose
    shape differs (another class count) stay at their initial values; any other shape mismatch
    is an error.
    """

    path: str | None = None
    weights: InitWeights = "auto"
    keys: tuple[str, ...] = ("model_ema", "model", "module")
    prefix: str = ""
    remap: InitRemap = "auto"
    head_prefix: str = "head."

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", tuple(self.keys))
        _check(self.path is None or bool(str(self.path).strip()), "init_from.path", "must not be empty")
        _check(self.weights in ("auto", "raw", "ema"), "init_from.weights",
               f"must be 'auto', 'raw' or 'ema', got {self.weights!r}")
        _check(self.remap in ("auto", "mamba_slr", "none"), "init_from.remap",
               f"must be 'auto', 'mamba_slr' or 'none', got {self.remap!r}")
        _check(all(isinstance(k, str) and k for k in self.keys), "init_from.keys",
               f"must be non-empty strings, got {list(self.keys)}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything the Trainer needs besides the model and the data.

    ``compile``: run the model's forward through ``torch.compile`` (:mod:`slr_train.compiling`):
    ``true``, ``false`` (the default) or ``auto`` (on for CPU with torch inductor and a C compiler
    and the ``ddp`` engine; eager on CUDA and under DeepSpeed). ``true`` with the ``deepspeed``
    engine is an error (not supported). A compilation failure falls back to eager with one warning.
    """

    optim: OptimConfig = field(default_factory=OptimConfig)
    precision: PrecisionConfig = field(default_factory=PrecisionConfig)
    ema: EMAConfig = field(default_factory=EMAConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    faults: FaultConfig = field(default_factory=FaultConfig)
    loader: LoaderConfig = field(default_factory=LoaderConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    init_from: InitFromConfig = field(default_factory=InitFromConfig)
    seed: int = 0
    deterministic: bool = False
    eval_every_epochs: int = 1
    compile: CompileSetting = False

    def __post_init__(self) -> None:
        _check(isinstance(self.compile, bool) or self.compile == "auto", "compile",
               f"must be true, false or 'auto', got {self.compile!r}")
        _check(not (self.compile is True and self.engine.kind == "deepspeed"), "compile",
               "true is not supported with engine.kind='deepspeed' (use 'auto', eager there, or false)")
        _check(self.eval_every_epochs >= 0, "eval_every_epochs", f"must be >= 0, got {self.eval_every_epochs}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-serialisable dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; missing keys take defaults, unknown keys raise ``ValueError``."""
        return dataclass_from_dict(cls, data)


def dataclass_from_dict(cls: type, data: Mapping[str, Any], prefix: str = "") -> Any:
    """Build the (frozen) dataclass ``cls`` from plain JSON/YAML data, nested dataclasses included.

    Unknown keys and values of the wrong type raise ``ValueError`` naming the dotted key
    (``prefix`` is prepended), before ``__post_init__`` validates the values themselves.
    """
    if not isinstance(data, Mapping):
        raise TrainConfigError(f"{prefix or 'config'}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"{prefix}." if prefix else ""
        raise TrainConfigError(f"{prefix or 'config'}: unknown key(s) {[where + k for k in unknown]}; "
                               f"known: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        key, hint = (f"{prefix}.{name}" if prefix else name), hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = dataclass_from_dict(hint, {} if value is None else value, key)
        elif _matches(value, hint):
            kwargs[name] = value
        else:
            raise TrainConfigError(
                f"{key}: expected {_describe(hint)}, got {value!r} ({type(value).__name__})"
            )
    return cls(**kwargs)


def _matches(value: Any, hint: Any) -> bool:
    """Whether plain data ``value`` (from JSON/YAML) fits the field annotation ``hint``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, arg) for arg in args)
    if origin is Literal:
        return value in args
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return isinstance(value, (list, tuple)) and all(_matches(v, args[0]) for v in value)
        return isinstance(value, (list, tuple)) and len(value) == len(args) and all(
            _matches(v, a) for v, a in zip(value, args))
    if origin in (dict, collections.abc.Mapping) or hint is dict:
        return isinstance(value, Mapping)
    return True


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if hint is type(None):
        return "null"
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a list, each {_describe(args[0])}"
        return f"a list of {len(args)} ({', '.join(_describe(a) for a in args)})"
    if origin is not None:
        return "a mapping" if origin in (dict, collections.abc.Mapping) else str(hint)
    return {float: "a number", int: "an integer", bool: "true/false", str: "a string"}.get(hint, str(hint))
