"""Frozen configs of the train / eval video transforms, and their presets.

The reference design (VAC / CorrNet style on PHOENIX): train = random resized crop of the frame
(area 0.8-1, aspect 3/4-4/3) to 224, RandAugment-style ops, random erasing; eval = resize the
short side to 256 and center-crop 224; both normalise with mean 0.45 and std 0.225.
Every random parameter is drawn once per video and applied to all its frames.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

__all__ = [
    "COLOR_OPS",
    "GEOMETRY_OPS",
    "RANDAUGMENT_OPS",
    "RandAugmentConfig",
    "TrainTransformConfig",
    "EvalTransformConfig",
    "train_preset",
    "eval_preset",
    "transform_config_from_dict",
]

#: Photometric ops (same LUT / blend for every frame of a video).
COLOR_OPS = (
    "identity",
    "brightness",
    "contrast",
    "color",
    "sharpness",
    "posterize",
    "solarize",
    "autocontrast",
    "equalize",
)
#: Geometric ops (one affine matrix for every frame of a video).
GEOMETRY_OPS = ("rotate", "shear_x", "shear_y", "translate_x", "translate_y")
RANDAUGMENT_OPS = COLOR_OPS + GEOMETRY_OPS
#: Ops that keep colours recognisable: the synthetic corpus encodes glosses partly by colour.
MILD_OPS = ("identity", "brightness", "contrast", "sharpness", "rotate", "translate_x", "translate_y")

_PROFILES = ("phoenix", "synthetic")


def _pair(value, name: str) -> tuple[float, float]:
    low, high = (float(v) for v in value)
    if low > high:
        raise ValueError(f"{name}: lower bound {low} exceeds upper bound {high}")
    return low, high


def _size(value) -> tuple[int, int]:
    """``224`` -> ``(224, 224)``; ``(h, w)`` kept."""
    if isinstance(value, int):
        value = (value, value)
    height, width = (int(v) for v in value)
    if height <= 0 or width <= 0:
        raise ValueError(f"output size must be positive, got {value!r}")
    return height, width


@dataclass(frozen=True)
class RandAugmentConfig:
    """RandAugment-style ops: ``num_ops`` ops drawn from ``ops`` per video at ``magnitude``.

    ``magnitude`` is on torchvision's 0..30 scale (9 = the common default); the sign of signed
    ops (brightness, rotate, ...) is drawn at random. ``magnitude_std > 0`` jitters the
    magnitude per video (clipped to 0..30).
    """

    num_ops: int = 2
    magnitude: float = 9.0
    magnitude_std: float = 0.0
    ops: tuple[str, ...] = RANDAUGMENT_OPS

    def __post_init__(self):
        unknown = set(self.ops) - set(RANDAUGMENT_OPS)
        if unknown:
            raise ValueError(f"unknown RandAugment op(s) {sorted(unknown)}; choose from {RANDAUGMENT_OPS}")
        if not self.ops or self.num_ops < 0 or not 0 <= self.magnitude <= 30:
            raise ValueError("RandAugment needs ops, num_ops >= 0 and 0 <= magnitude <= 30")
        object.__setattr__(self, "ops", tuple(self.ops))


@dataclass(frozen=True)
class TrainTransformConfig:
    """Training augmentation. Shapes: ``(T, H, W, 3) uint8 -> (T, 3, size_h, size_w) float32``.

    Attributes:
        size: output size (int or ``(h, w)``).
        scale: crop area as a fraction of the frame area (random resized crop).
        ratio: crop aspect ratio ``w / h`` range (sampled log-uniformly).
        hflip_prob: horizontal flip probability (0 by default: flipping swaps the signing hand).
        randaugment: RandAugment-style ops, or ``None`` for none.
        erasing_prob: probability of erasing one rectangle (same place in every frame).
        erasing_scale: erased area as a fraction of the output area.
        erasing_ratio: erased rectangle aspect ratio range.
        mean, std: per-channel normalisation (RGB, on the 0..1 scale).
    """

    size: tuple[int, int] | int = 224
    scale: tuple[float, float] = (0.8, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    hflip_prob: float = 0.0
    randaugment: RandAugmentConfig | None = RandAugmentConfig()
    erasing_prob: float = 0.25
    erasing_scale: tuple[float, float] = (0.02, 0.2)
    erasing_ratio: tuple[float, float] = (0.3, 3.3)
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.225, 0.225, 0.225)

    def __post_init__(self):
        object.__setattr__(self, "size", _size(self.size))
        for name in ("scale", "ratio", "erasing_scale", "erasing_ratio"):
            object.__setattr__(self, name, _pair(getattr(self, name), name))
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"scale must lie in (0, 1], got {self.scale}")
        if isinstance(self.randaugment, dict):
            object.__setattr__(self, "randaugment", RandAugmentConfig(**self.randaugment))
        _check_norm(self.mean, self.std)
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))

    def to_dict(self) -> dict:
        return {"kind": "train", **dataclasses.asdict(self)}


@dataclass(frozen=True)
class EvalTransformConfig:
    """Evaluation transform: resize (short side to ``resize``) + center crop ``size`` + normalise.

    ``resize=None`` resizes the whole frame to ``size`` (no crop).
    """

    size: tuple[int, int] | int = 224
    resize: int | None = 256
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.225, 0.225, 0.225)

    def __post_init__(self):
        object.__setattr__(self, "size", _size(self.size))
        if self.resize is not None and self.resize < max(self.size):
            raise ValueError(f"resize ({self.resize}) must be >= the crop size {self.size}")
        _check_norm(self.mean, self.std)
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))

    def to_dict(self) -> dict:
        return {"kind": "eval", **dataclasses.asdict(self)}


def _check_norm(mean, std) -> None:
    if len(mean) != 3 or len(std) != 3 or any(s <= 0 for s in std):
        raise ValueError(f"mean and std need 3 values each, std > 0; got {mean}, {std}")


def train_preset(size: int | tuple[int, int] = 224, profile: str = "phoenix") -> TrainTransformConfig:
    """Train preset at ``size``.

    ``"phoenix"``: the reference design above. ``"synthetic"``: for the synthetic corpus and tiny
    models: same crop, one mild op (no colour-changing ops: glosses are partly coded by colour),
    magnitude 5, erasing probability 0.1.
    """
    if profile not in _PROFILES:
        raise ValueError(f"profile must be one of {_PROFILES}, got {profile!r}")
    if profile == "phoenix":
        return TrainTransformConfig(size=size)
    return TrainTransformConfig(
        size=size,
        randaugment=RandAugmentConfig(num_ops=1, magnitude=5.0, ops=MILD_OPS),
        erasing_prob=0.1,
        erasing_scale=(0.02, 0.08),
    )


def eval_preset(size: int | tuple[int, int] = 224) -> EvalTransformConfig:
    """Eval preset: resize the short side to ``size * 256 / 224`` (256 for 224), center-crop ``size``."""
    height, width = _size(size)
    return EvalTransformConfig(size=(height, width), resize=int(round(max(height, width) * 256 / 224)))


def transform_config_from_dict(data: dict) -> TrainTransformConfig | EvalTransformConfig:
    """Inverse of ``config.to_dict()`` (for configs saved with a run)."""
    data = dict(data)
    kind = data.pop("kind", None)
    if kind == "train":
        return TrainTransformConfig(**data)
    if kind == "eval":
        return EvalTransformConfig(**data)
    raise ValueError(f"transform config needs kind 'train' or 'eval', got {kind!r}")
