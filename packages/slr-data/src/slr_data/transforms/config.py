"""Frozen configs of the train / eval video transforms, and their presets.

The reference design (VAC / CorrNet style on PHOENIX): train = random resized crop of the frame
(area 0.8-1, aspect 3/4-4/3) to 224, RandAugment-style ops, random erasing; both normalise with
mean 0.45 and std 0.225. Eval (``crop_mode="train_mean"``) is a centred crop of the mean extent
of the train crops, resized to the output size the same way, so evaluation sees what training
sees on average, whatever the frame size (on 210x260 frames the classic "short side to 256,
centre-crop 224" keeps a 184x184 square, 71 % of the height, while training sees 80-100 % of
the area squashed to a square). ``crop_mode="center"`` is the classic eval, kept for Mamba_SLR.
Every random parameter is drawn once per video and applied to all its frames.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from slr_data.transforms.timm_randaugment import TimmRandAugmentConfig

__all__ = [
    "COLOR_OPS",
    "GEOMETRY_OPS",
    "RANDAUGMENT_OPS",
    "ERASING_MODES",
    "EVAL_CROP_MODES",
    "PROFILES",
    "MAMBA_SLR_RANDAUGMENT",
    "RandAugmentConfig",
    "TimmRandAugmentConfig",
    "TrainTransformConfig",
    "EvalTransformConfig",
    "train_preset",
    "eval_preset",
    "matching_eval_config",
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

#: Train/eval profiles of :func:`train_preset` / :func:`eval_preset`.
PROFILES = ("phoenix", "synthetic", "mamba_slr")
#: Random erasing fills: the mean colour (0 after normalisation), one random normal colour per
#: rectangle, or per-pixel normal noise (in normalised units, as timm's modes).
ERASING_MODES = ("const", "rand", "pixel")
EVAL_CROP_MODES = ("center", "train_mean")
#: The RandAugment string of the Mamba_SLR recipe (its ``--aa`` default).
MAMBA_SLR_RANDAUGMENT = "rand-m5-mstd0.25"


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
        randaugment: RandAugment-style ops on the output frame (torchvision magnitudes), or ``None``.
        timm_randaugment: timm RandAugment on the source frame before the crop (as timm / Mamba_SLR),
            or ``None``; a :class:`TimmRandAugmentConfig`, its dict, or a string ``"rand-m9-mstd0.5"``.
            At most one of ``randaugment`` and ``timm_randaugment``.
        erasing_prob: probability of random erasing (same rectangles and fill in every frame).
        erasing_scale: erased area as a fraction of the output area (divided by the box count).
        erasing_ratio: erased rectangle aspect ratio (``h / w``) range.
        erasing_mode: fill of erased rectangles, one of :data:`ERASING_MODES`.
        erasing_count: at most this many rectangles (count uniform in ``1..erasing_count``).
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
    timm_randaugment: TimmRandAugmentConfig | None = None
    erasing_mode: str = "const"
    erasing_count: int = 1

    def __post_init__(self):
        object.__setattr__(self, "size", _size(self.size))
        for name in ("scale", "ratio", "erasing_scale", "erasing_ratio"):
            object.__setattr__(self, name, _pair(getattr(self, name), name))
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"scale must lie in (0, 1], got {self.scale}")
        if not 0 < self.ratio[0] or not 0 < self.erasing_ratio[0]:
            raise ValueError(f"ratio and erasing_ratio must be positive, got {self.ratio}, "
                             f"{self.erasing_ratio}")
        if isinstance(self.randaugment, dict):
            object.__setattr__(self, "randaugment", RandAugmentConfig(**self.randaugment))
        timm = self.timm_randaugment
        if isinstance(timm, str):
            object.__setattr__(self, "timm_randaugment", TimmRandAugmentConfig.from_string(timm))
        elif isinstance(timm, dict):
            object.__setattr__(self, "timm_randaugment", TimmRandAugmentConfig(**timm))
        if self.randaugment is not None and self.timm_randaugment is not None:
            raise ValueError("give randaugment or timm_randaugment, not both")
        if self.erasing_mode not in ERASING_MODES:
            raise ValueError(f"erasing_mode must be one of {ERASING_MODES}, got {self.erasing_mode!r}")
        if int(self.erasing_count) != self.erasing_count or self.erasing_count < 1:
            raise ValueError(f"erasing_count must be an integer >= 1, got {self.erasing_count!r}")
        object.__setattr__(self, "erasing_count", int(self.erasing_count))
        if not 0 <= self.hflip_prob <= 1 or not 0 <= self.erasing_prob <= 1:
            raise ValueError(f"hflip_prob and erasing_prob must lie in [0, 1], got {self.hflip_prob}, "
                             f"{self.erasing_prob}")
        _check_norm(self.mean, self.std)
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))

    def to_dict(self) -> dict:
        return {"kind": "train", **dataclasses.asdict(self)}


@dataclass(frozen=True)
class EvalTransformConfig:
    """Evaluation transform: a deterministic centred crop resized to ``size``, then normalised.

    Attributes:
        size: output size (int or ``(h, w)``).
        crop_mode: ``"center"``: resize the short side to ``resize`` and centre-crop ``size``
            (``resize=None``: the whole frame resized to ``size``); the classic eval and the
            Mamba_SLR one. ``"train_mean"``: a centred box of the mean width and height of the
            train random resized crops (``train_scale``, ``train_ratio``) on this frame size,
            resized to ``size`` (so squashed like the train crops); ``resize`` must be ``None``.
        resize: short side before the centre crop (``crop_mode="center"``).
        train_scale, train_ratio: the train crop's ``scale`` / ``ratio`` (``crop_mode="train_mean"``).
        mean, std: per-channel normalisation (RGB, on the 0..1 scale).

    The defaults are the classic eval, so configs saved before ``crop_mode`` existed load unchanged.
    """

    size: tuple[int, int] | int = 224
    resize: int | None = 256
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.225, 0.225, 0.225)
    crop_mode: str = "center"
    train_scale: tuple[float, float] = (0.8, 1.0)
    train_ratio: tuple[float, float] = (3 / 4, 4 / 3)

    def __post_init__(self):
        object.__setattr__(self, "size", _size(self.size))
        if self.crop_mode not in EVAL_CROP_MODES:
            raise ValueError(f"crop_mode must be one of {EVAL_CROP_MODES}, got {self.crop_mode!r}")
        if self.crop_mode == "train_mean" and self.resize is not None:
            raise ValueError(f"crop_mode 'train_mean' does not use resize; set it to None, got {self.resize}")
        if self.resize is not None and self.resize < max(self.size):
            raise ValueError(f"resize ({self.resize}) must be >= the crop size {self.size}")
        for name in ("train_scale", "train_ratio"):
            object.__setattr__(self, name, _pair(getattr(self, name), name))
        if not 0 < self.train_scale[0] <= self.train_scale[1] <= 1 or not 0 < self.train_ratio[0]:
            raise ValueError(f"train_scale must lie in (0, 1] and train_ratio be positive, got "
                             f"{self.train_scale}, {self.train_ratio}")
        _check_norm(self.mean, self.std)
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))

    def to_dict(self) -> dict:
        return {"kind": "eval", **dataclasses.asdict(self)}


def _check_norm(mean, std) -> None:
    if len(mean) != 3 or len(std) != 3 or any(s <= 0 for s in std):
        raise ValueError(f"mean and std need 3 values each, std > 0; got {mean}, {std}")


def train_preset(size: int | tuple[int, int] = 224, profile: str = "phoenix") -> TrainTransformConfig:
    """Train preset at ``size``; ``profile`` one of :data:`PROFILES`.

    ``"phoenix"``: the reference design above. ``"synthetic"``: for the synthetic corpus and tiny
    models: same crop, one mild op (no colour-changing ops: glosses are partly coded by colour),
    magnitude 5, erasing probability 0.1. ``"mamba_slr"``: the Mamba_SLR recipe, video-consistent:
    timm RandAugment ``rand-m5-mstd0.25`` on the source frame (bilinear, border fill 128; every
    drawn op is applied, as the original's paired implementation does: it ignores timm's per-op
    probability 0.5), random resized crop (area 0.8-1, aspect 0.75-1.3333), horizontal flip 0.5,
    normalisation 0.45 / 0.225, then random erasing with probability 0.25, area 0.02-0.1, aspect
    0.3-3.33, one rectangle of per-pixel normal noise (the same noise in every frame). The original
    applies its erasing twice (two independent draws); that is a bug and is applied once here.
    Meant for the 256x256 frame tree, evaluated with ``eval_preset(size, "mamba_slr")``.
    """
    _check_profile(profile)
    if profile == "phoenix":
        return TrainTransformConfig(size=size)
    if profile == "mamba_slr":
        return TrainTransformConfig(
            size=size,
            scale=(0.8, 1.0),
            ratio=(0.75, 1.3333),
            hflip_prob=0.5,
            randaugment=None,
            timm_randaugment=TimmRandAugmentConfig.from_string(MAMBA_SLR_RANDAUGMENT, prob=1.0),
            erasing_prob=0.25,
            erasing_scale=(0.02, 0.1),
            erasing_ratio=(0.3, 1 / 0.3),
            erasing_mode="pixel",
            erasing_count=1,
        )
    return TrainTransformConfig(
        size=size,
        randaugment=RandAugmentConfig(num_ops=1, magnitude=5.0, ops=MILD_OPS),
        erasing_prob=0.1,
        erasing_scale=(0.02, 0.08),
    )


def _check_profile(profile: str) -> None:
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")


def matching_eval_config(train: TrainTransformConfig) -> EvalTransformConfig:
    """Eval config that sees what ``train`` sees on average: a centred box of the mean train crop
    extent (``crop_mode="train_mean"``), same output size and normalisation."""
    return EvalTransformConfig(size=train.size, resize=None, crop_mode="train_mean", train_scale=train.scale,
                               train_ratio=train.ratio, mean=train.mean, std=train.std)


def eval_preset(
    size: int | tuple[int, int] = 224, profile: str = "phoenix", crop_mode: str | None = None
) -> EvalTransformConfig:
    """Eval preset at ``size`` matching ``train_preset(size, profile)``.

    ``crop_mode`` (default: ``"center"`` for ``"mamba_slr"``, ``"train_mean"`` otherwise):
    ``"train_mean"`` = :func:`matching_eval_config` of the profile's train preset; ``"center"`` =
    resize the short side to ``size * 256 / 224`` (256 for 224) and centre-crop ``size`` (the
    classic eval; for ``"mamba_slr"`` on 256x256 frames exactly the original's: the resize is a
    no-op there and the crop starts at pixel 16).
    """
    _check_profile(profile)
    if crop_mode is None:
        crop_mode = "center" if profile == "mamba_slr" else "train_mean"
    if crop_mode not in EVAL_CROP_MODES:
        raise ValueError(f"crop_mode must be one of {EVAL_CROP_MODES}, got {crop_mode!r}")
    train = train_preset(size, profile)
    if crop_mode == "train_mean":
        return matching_eval_config(train)
    height, width = train.size
    return EvalTransformConfig(size=(height, width), resize=int(round(max(height, width) * 256 / 224)),
                               mean=train.mean, std=train.std)


def transform_config_from_dict(data: dict):
    """Inverse of ``config.to_dict()`` (for configs saved with a run; older saved configs, without the
    fields added since, load with the behaviour they had)."""
    data = dict(data)
    kind = data.pop("kind", None)
    classes = {"train": TrainTransformConfig, "eval": EvalTransformConfig}
    if kind == "albumentations":  # a user's pipeline (its factory is imported again)
        from slr_data.transforms.albumentations_adapter import AlbumentationsConfig

        classes[kind] = AlbumentationsConfig
    if kind not in classes:
        raise ValueError(f"transform config needs kind 'train', 'eval' or 'albumentations', got {kind!r}")
    known = {f.name for f in dataclasses.fields(classes[kind])}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{kind} transform config: unknown field(s) {unknown}; known: {sorted(known)}")
    return classes[kind](**data)
