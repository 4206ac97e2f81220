"""slr-train: distributed training and evaluation for continuous sign language recognition.

Configs are frozen dataclasses (:class:`TrainConfig` and its parts); :class:`Trainer` runs the
epochs (DDP or DeepSpeed engine, layer-decay AdamW, cosine warmup, EMA, atomic checkpoints with
exact resume, NaN skipping, CTC feasibility, initial weights from a file); :func:`evaluate`
scores a dataset across ranks.
"""

from slr_train.__about__ import __version__
from slr_train.atomic import OutputPathError
from slr_train.checkpoint import (
    CheckpointChoice,
    CheckpointError,
    CheckpointInfo,
    CheckpointManager,
    InvalidCheckpoint,
    load_checkpoint,
)
from slr_train.checkpoint_layout import CheckpointRecord
from slr_train.config import (
    CheckpointConfig,
    DeepSpeedConfigError,
    EMAConfig,
    EngineConfig,
    FaultConfig,
    InitFromConfig,
    LoaderConfig,
    LoggingConfig,
    LossConfig,
    OptimConfig,
    PrecisionConfig,
    TrainConfig,
)
from slr_train.data import EvalSet, TrainSet
from slr_train.determinism import configure_determinism, seed_everything
from slr_train.distributed import DistEnv, distributed_session, init_distributed
from slr_train.ema import ModelEMA
from slr_train.engines import Engine, StepResult, build_engine
from slr_train.errors import SlrTrainError, TrainConfigError
from slr_train.evaluation import (EvalResult, EvaluationError, WERScorer, check_decoder, evaluate,
                                  sum_counts_over_ranks)
from slr_train.feasibility import (
    CTCInfeasibleError,
    FeasibilityReport,
    apply_feasibility_policy,
    check_ctc_feasibility,
    ctc_min_output_length,
)
from slr_train.init_from import InitFromError, InitReport, init_model_from, plan_init
from slr_train.launch import launch_local, launched_by_torchrun, torchrun_command
from slr_train.nonfinite import NonFiniteGuard, NonFiniteLossError
from slr_train.param_groups import assign_param_groups, build_adamw, no_weight_decay_names
from slr_train.resume import ResumeSource, TrainingInterrupted, select_checkpoint
from slr_train.schedules import CosineWarmup, DropPathSchedule, LRScheduler
from slr_train.trainer import FitResult, Trainer
from slr_train.trainer_state import BestRecord, eval_model_state

__all__ = [
    "BestRecord",
    "CTCInfeasibleError",
    "CheckpointChoice",
    "CheckpointConfig",
    "CheckpointError",
    "CheckpointInfo",
    "CheckpointManager",
    "CheckpointRecord",
    "CosineWarmup",
    "DeepSpeedConfigError",
    "DistEnv",
    "DropPathSchedule",
    "EMAConfig",
    "Engine",
    "EngineConfig",
    "EvalResult",
    "EvalSet",
    "EvaluationError",
    "FaultConfig",
    "FeasibilityReport",
    "FitResult",
    "InitFromConfig",
    "InitFromError",
    "InitReport",
    "InvalidCheckpoint",
    "LRScheduler",
    "LoaderConfig",
    "LoggingConfig",
    "LossConfig",
    "ModelEMA",
    "NonFiniteGuard",
    "NonFiniteLossError",
    "OptimConfig",
    "OutputPathError",
    "PrecisionConfig",
    "ResumeSource",
    "SlrTrainError",
    "StepResult",
    "TrainConfig",
    "TrainConfigError",
    "TrainSet",
    "Trainer",
    "TrainingInterrupted",
    "WERScorer",
    "__version__",
    "apply_feasibility_policy",
    "assign_param_groups",
    "build_adamw",
    "build_engine",
    "check_ctc_feasibility",
    "check_decoder",
    "configure_determinism",
    "ctc_min_output_length",
    "distributed_session",
    "eval_model_state",
    "evaluate",
    "init_distributed",
    "init_model_from",
    "launch_local",
    "launched_by_torchrun",
    "load_checkpoint",
    "no_weight_decay_names",
    "plan_init",
    "seed_everything",
    "select_checkpoint",
    "sum_counts_over_ranks",
    "torchrun_command",
]
