"""Video-consistent augmentation: frozen configs, per-video parameters, the transform."""

from slr_data.transforms.config import (
    COLOR_OPS,
    ERASING_MODES,
    EVAL_CROP_MODES,
    GEOMETRY_OPS,
    MAMBA_SLR_RANDAUGMENT,
    MILD_OPS,
    PROFILES,
    RANDAUGMENT_OPS,
    EvalTransformConfig,
    RandAugmentConfig,
    TrainTransformConfig,
    eval_preset,
    matching_eval_config,
    train_preset,
    transform_config_from_dict,
)
from slr_data.transforms.crops import mean_random_resized_crop, random_resized_crop
from slr_data.transforms.ops import apply_color_ops
from slr_data.transforms.params import VideoAugParams, eval_params, sample_train_params
from slr_data.transforms.timm_randaugment import (
    TIMM_GEOMETRY_OPS,
    TIMM_MAX_LEVEL,
    TIMM_RAND_INCREASING_OPS,
    TIMM_RAND_OPS,
    TimmRandAugmentConfig,
    sample_timm_ops,
    timm_geometry_matrix,
    timm_op_argument,
)
from slr_data.transforms.video import TransformedVideo, VideoTransform, normalize_video

__all__ = [
    "COLOR_OPS",
    "ERASING_MODES",
    "EVAL_CROP_MODES",
    "GEOMETRY_OPS",
    "MAMBA_SLR_RANDAUGMENT",
    "MILD_OPS",
    "PROFILES",
    "RANDAUGMENT_OPS",
    "TIMM_GEOMETRY_OPS",
    "TIMM_MAX_LEVEL",
    "TIMM_RAND_INCREASING_OPS",
    "TIMM_RAND_OPS",
    "EvalTransformConfig",
    "RandAugmentConfig",
    "TimmRandAugmentConfig",
    "TrainTransformConfig",
    "TransformedVideo",
    "VideoAugParams",
    "VideoTransform",
    "apply_color_ops",
    "eval_params",
    "eval_preset",
    "matching_eval_config",
    "mean_random_resized_crop",
    "normalize_video",
    "random_resized_crop",
    "sample_timm_ops",
    "sample_train_params",
    "timm_geometry_matrix",
    "timm_op_argument",
    "train_preset",
    "transform_config_from_dict",
]
