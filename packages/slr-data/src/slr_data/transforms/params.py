"""Per-video augmentation parameters: drawn once, applied identically to every frame.

Coordinates are pixel centres: pixel ``(x, y)`` covers ``[x - 0.5, x + 0.5]``, the convention of
``cv2.resize``, so :meth:`VideoAugParams.matrix` maps source keypoints exactly where the
resized pixels land.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from slr_data.transforms.config import GEOMETRY_OPS, EvalTransformConfig, TrainTransformConfig

__all__ = ["VideoAugParams", "sample_train_params", "eval_params", "fill_color"]


@dataclass(frozen=True, eq=False)
class VideoAugParams:
    """What happens to one video.

    Attributes:
        source_size: ``(H, W)`` of the input frames.
        crop: ``(x0, y0, w, h)`` integer crop box in source pixels, resized to ``out_size``.
        out_size: ``(h, w)`` of the output frames.
        affine: optional 2x3 matrix (output pixels -> output pixels) applied after the resize:
            the RandAugment geometric ops (rotation, shear, translation about the centre).
        flip: mirror horizontally (last).
        color_ops: ``((name, value), ...)`` applied in order after the geometry.
        erase: ``(x0, y0, w, h)`` rectangle in output pixels filled with ``fill``, or ``None``.
        fill: RGB uint8 colour for erased areas and borders (the normalisation mean).
    """

    source_size: tuple[int, int]
    crop: tuple[int, int, int, int]
    out_size: tuple[int, int]
    affine: np.ndarray | None = None
    flip: bool = False
    color_ops: tuple[tuple[str, float], ...] = ()
    erase: tuple[int, int, int, int] | None = None
    fill: tuple[int, int, int] = (115, 115, 115)

    def crop_matrix(self) -> np.ndarray:
        """2x3 matrix: source pixel coords -> output pixel coords of the crop + resize alone."""
        x0, y0, w, h = self.crop
        out_h, out_w = self.out_size
        sx, sy = out_w / w, out_h / h
        return np.array([[sx, 0.0, (0.5 - x0) * sx - 0.5], [0.0, sy, (0.5 - y0) * sy - 0.5]])

    def geometry_matrix(self) -> np.ndarray:
        """2x3 matrix: source pixel coords -> output coords of crop, resize and affine (no flip)."""
        m = _to3(self.crop_matrix())
        if self.affine is not None:
            m = _to3(self.affine) @ m
        return m[:2]

    def matrix(self) -> np.ndarray:
        """2x3 matrix: source pixel coords -> final output pixel coords (crop, affine, flip)."""
        m = _to3(self.geometry_matrix())
        if self.flip:
            m = np.array([[-1.0, 0.0, self.out_size[1] - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ m
        return m[:2]

    def transform_points(self, points: np.ndarray) -> np.ndarray:
        """Map ``(..., 2)`` source ``(x, y)`` pixel coordinates to output coordinates."""
        points = np.asarray(points, dtype=np.float64)
        m = self.matrix()
        return points @ m[:, :2].T + m[:, 2]


def _to3(m: np.ndarray) -> np.ndarray:
    return np.vstack([np.asarray(m, dtype=np.float64), [0.0, 0.0, 1.0]])


def fill_color(mean: tuple[float, float, float]) -> tuple[int, int, int]:
    return tuple(int(round(255 * m)) for m in mean)


def _random_resized_crop(height, width, scale, ratio, rng) -> tuple[int, int, int, int]:
    """torchvision's RandomResizedCrop box sampling; returns ``(x0, y0, w, h)``."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1)), w, h
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        w, h = int(round(height * ratio[1])), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def _ops_affine(ops, out_size) -> np.ndarray | None:
    """Compose rotate / shear / translate ops about the output centre into one 2x3 matrix."""
    out_h, out_w = out_size
    cx, cy = (out_w - 1) / 2, (out_h - 1) / 2
    total = np.eye(3)
    used = False
    for name, value in ops:
        if name not in GEOMETRY_OPS:
            continue
        used = True
        if name == "rotate":
            theta = math.radians(value)
            c, s = math.cos(theta), math.sin(theta)
            step = np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy], [0, 0, 1]])
        elif name == "shear_x":
            step = np.array([[1, value, -value * cy], [0, 1, 0], [0, 0, 1]])
        elif name == "shear_y":
            step = np.array([[1, 0, 0], [value, 1, -value * cx], [0, 0, 1]])
        elif name == "translate_x":
            step = np.array([[1, 0, value], [0, 1, 0], [0, 0, 1]])
        else:  # translate_y
            step = np.array([[1, 0, 0], [0, 1, value], [0, 0, 1]])
        total = step @ total
    return total[:2] if used else None


def _op_value(name: str, magnitude: float, out_size, rng) -> float:
    """torchvision RandAugment value of op ``name`` at ``magnitude`` (0..30), random sign."""
    m = magnitude / 30.0
    sign = -1.0 if rng.random() < 0.5 else 1.0
    if name in ("brightness", "contrast", "color", "sharpness"):
        return 1.0 + sign * 0.9 * m
    if name == "rotate":
        return sign * 30.0 * m
    if name in ("shear_x", "shear_y"):
        return sign * 0.3 * m
    if name == "translate_x":
        return sign * 150.0 / 331.0 * out_size[1] * m
    if name == "translate_y":
        return sign * 150.0 / 331.0 * out_size[0] * m
    if name == "posterize":
        return float(int(8 - 4 * m))
    if name == "solarize":
        return 255.0 * (1.0 - m)
    return 0.0  # identity, autocontrast, equalize


def sample_train_params(
    config: TrainTransformConfig, source_size, rng: np.random.Generator
) -> VideoAugParams:
    """Draw one video's parameters for ``config`` (``source_size = (H, W)``)."""
    height, width = source_size
    out_size = config.size
    crop = _random_resized_crop(height, width, config.scale, config.ratio, rng)
    ops: list[tuple[str, float]] = []
    ra = config.randaugment
    if ra is not None and ra.num_ops > 0:
        magnitude = ra.magnitude
        if ra.magnitude_std > 0:
            magnitude = float(np.clip(rng.normal(ra.magnitude, ra.magnitude_std), 0.0, 30.0))
        for index in rng.integers(0, len(ra.ops), size=ra.num_ops):
            name = ra.ops[int(index)]
            ops.append((name, _op_value(name, magnitude, out_size, rng)))
    flip = bool(config.hflip_prob > 0 and rng.random() < config.hflip_prob)
    erase = None
    if config.erasing_prob > 0 and rng.random() < config.erasing_prob:
        erase = _erase_box(out_size, config.erasing_scale, config.erasing_ratio, rng)
    return VideoAugParams(
        source_size=(height, width),
        crop=crop,
        out_size=out_size,
        affine=_ops_affine(ops, out_size),
        flip=flip,
        color_ops=tuple(op for op in ops if op[0] not in GEOMETRY_OPS and op[0] != "identity"),
        erase=erase,
        fill=fill_color(config.mean),
    )


def _erase_box(out_size, scale, ratio, rng) -> tuple[int, int, int, int] | None:
    out_h, out_w = out_size
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target = out_h * out_w * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(*log_ratio))
        h = int(round(math.sqrt(target * aspect)))
        w = int(round(math.sqrt(target / aspect)))
        if 0 < h < out_h and 0 < w < out_w:
            return int(rng.integers(0, out_w - w + 1)), int(rng.integers(0, out_h - h + 1)), w, h
    return None


def eval_params(config: EvalTransformConfig, source_size) -> VideoAugParams:
    """Deterministic parameters: short side resized to ``config.resize``, centre crop ``config.size``."""
    height, width = source_size
    out_h, out_w = config.size
    if config.resize is None:
        crop = (0, 0, width, height)
    else:
        factor = config.resize / min(height, width)
        w = min(width, max(1, int(round(out_w / factor))))
        h = min(height, max(1, int(round(out_h / factor))))
        crop = ((width - w) // 2, (height - h) // 2, w, h)
    return VideoAugParams(
        source_size=(height, width), crop=crop, out_size=(out_h, out_w), fill=fill_color(config.mean)
    )
