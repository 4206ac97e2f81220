"""Video-consistent augmentation: frozen configs, per-video parameters, the transform."""

from slr_data.transforms.config import (
    COLOR_OPS,
    GEOMETRY_OPS,
    MILD_OPS,
    RANDAUGMENT_OPS,
    EvalTransformConfig,
    RandAugmentConfig,
    TrainTransformConfig,
    eval_preset,
    train_preset,
    transform_config_from_dict,
)
from slr_data.transforms.ops import apply_color_ops
from slr_data.transforms.params import VideoAugParams, eval_params, sample_train_params
from slr_data.transforms.video import TransformedVideo, VideoTransform, normalize_video

__all__ = [
    "COLOR_OPS",
    "GEOMETRY_OPS",
    "MILD_OPS",
    "RANDAUGMENT_OPS",
    "EvalTransformConfig",
    "RandAugmentConfig",
    "TrainTransformConfig",
    "TransformedVideo",
    "VideoAugParams",
    "VideoTransform",
    "apply_color_ops",
    "eval_params",
    "eval_preset",
    "normalize_video",
    "sample_train_params",
    "train_preset",
    "transform_config_from_dict",
]
