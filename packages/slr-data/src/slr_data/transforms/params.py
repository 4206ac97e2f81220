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
from slr_data.transforms.crops import erase_boxes, mean_random_resized_crop, random_resized_crop
from slr_data.transforms.timm_randaugment import sample_timm_ops, timm_color_ops, timm_geometry_matrix

__all__ = ["VideoAugParams", "sample_train_params", "eval_params", "fill_color"]

Box = tuple[int, int, int, int]


@dataclass(frozen=True, eq=False)
class VideoAugParams:
    """What happens to one video.

    The geometry, in order: ``source_affine`` (source frame), crop + resize, ``affine`` (output
    frame), flip; :meth:`matrix` composes all of it, so keypoints follow every geometric op.

    Attributes:
        source_size: ``(H, W)`` of the input frames.
        crop: ``(x0, y0, w, h)`` integer crop box in source pixels, resized to ``out_size``.
        out_size: ``(h, w)`` of the output frames.
        affine: optional 2x3 matrix (output pixels -> output pixels) applied after the resize:
            the RandAugment geometric ops (rotation, shear, translation about the centre).
        flip: mirror horizontally (last).
        color_ops: ``((name, value), ...)`` applied in order after the geometry.
        erase: ``((x0, y0, w, h), ...)`` rectangles in output pixels filled with ``fill``.
        fill: RGB uint8 colour for erased areas and borders (the normalisation mean).
        source_affine: optional 2x3 matrix (source pixels -> source pixels) applied before the
            crop: the timm RandAugment geometric ops on the whole frame.
        border: RGB uint8 colour of pixels warped in from outside the frame (``None``: ``fill``).
        erase_noise: per rectangle of ``erase``, an ``(h, w, 3)`` (per-pixel) or ``(1, 1, 3)``
            (per-rectangle colour) float32 array in normalised units written over the rectangle after
            normalisation (the same for every frame), or ``None`` (``fill``).
        timm_ops: the timm RandAugment ops drawn, ``((name, argument), ...)`` (for inspection).
    """

    source_size: tuple[int, int]
    crop: Box
    out_size: tuple[int, int]
    affine: np.ndarray | None = None
    flip: bool = False
    color_ops: tuple[tuple[str, float], ...] = ()
    erase: tuple[Box, ...] = ()
    fill: tuple[int, int, int] = (115, 115, 115)
    source_affine: np.ndarray | None = None
    border: tuple[int, int, int] | None = None
    erase_noise: tuple[np.ndarray, ...] | None = None
    timm_ops: tuple[tuple[str, float], ...] = ()

    @property
    def border_color(self) -> tuple[int, int, int]:
        return self.fill if self.border is None else self.border

    def crop_matrix(self) -> np.ndarray:
        """2x3 matrix: source pixel coords -> output pixel coords of the crop + resize alone."""
        x0, y0, w, h = self.crop
        out_h, out_w = self.out_size
        sx, sy = out_w / w, out_h / h
        return np.array([[sx, 0.0, (0.5 - x0) * sx - 0.5], [0.0, sy, (0.5 - y0) * sy - 0.5]])

    def geometry_matrix(self) -> np.ndarray:
        """2x3 matrix: source pixel coords -> output coords of source affine, crop + resize, affine
        (no flip)."""
        m = _to3(self.crop_matrix())
        if self.source_affine is not None:
            m = m @ _to3(self.source_affine)
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
    crop = random_resized_crop(height, width, config.scale, config.ratio, rng)
    ops: list[tuple[str, float]] = []
    ra = config.randaugment
    if ra is not None and ra.num_ops > 0:
        magnitude = ra.magnitude
        if ra.magnitude_std > 0:
            magnitude = float(np.clip(rng.normal(ra.magnitude, ra.magnitude_std), 0.0, 30.0))
        for index in rng.integers(0, len(ra.ops), size=ra.num_ops):
            name = ra.ops[int(index)]
            ops.append((name, _op_value(name, magnitude, out_size, rng)))
    color_ops = tuple(op for op in ops if op[0] not in GEOMETRY_OPS and op[0] != "identity")
    timm_ops: tuple[tuple[str, float], ...] = ()
    if config.timm_randaugment is not None:
        timm_ops = sample_timm_ops(config.timm_randaugment, rng)
        color_ops = timm_color_ops(timm_ops)
    flip = bool(config.hflip_prob > 0 and rng.random() < config.hflip_prob)
    erase: tuple[tuple[int, int, int, int], ...] = ()
    noise = None
    if config.erasing_prob > 0 and rng.random() < config.erasing_prob:
        erase = erase_boxes(out_size, config.erasing_scale, config.erasing_ratio, config.erasing_count, rng)
        if config.erasing_mode != "const":
            noise = tuple(rng.standard_normal((h, w, 3) if config.erasing_mode == "pixel" else (1, 1, 3),
                                              dtype=np.float32) for _, _, w, h in erase)
    return VideoAugParams(
        source_size=(height, width),
        crop=crop,
        out_size=out_size,
        affine=_ops_affine(ops, out_size),
        flip=flip,
        color_ops=color_ops,
        erase=erase,
        fill=fill_color(config.mean),
        source_affine=None if not timm_ops else timm_geometry_matrix(timm_ops, (height, width)),
        border=None if config.timm_randaugment is None else config.timm_randaugment.fill,
        erase_noise=noise,
        timm_ops=timm_ops,
    )


def eval_params(config: EvalTransformConfig, source_size) -> VideoAugParams:
    """Deterministic parameters of ``config`` on frames of ``source_size = (H, W)``: a centred crop
    (short side resized to ``config.resize`` then ``config.size``, the whole frame, or the mean
    train crop; see :class:`~slr_data.transforms.config.EvalTransformConfig`)."""
    height, width = source_size
    out_h, out_w = config.size
    if config.crop_mode == "train_mean":
        mean_box = mean_random_resized_crop(height, width, config.train_scale, config.train_ratio)
        x0, x1 = _rounded_edges(mean_box[0], mean_box[2], width)
        y0, y1 = _rounded_edges(mean_box[1], mean_box[3], height)
        crop = (x0, y0, x1 - x0, y1 - y0)
    elif config.resize is None:
        crop = (0, 0, width, height)
    else:
        factor = config.resize / min(height, width)
        w = min(width, max(1, int(round(out_w / factor))))
        h = min(height, max(1, int(round(out_h / factor))))
        crop = ((width - w) // 2, (height - h) // 2, w, h)
    return VideoAugParams(
        source_size=(height, width), crop=crop, out_size=(out_h, out_w), fill=fill_color(config.mean)
    )


def _rounded_edges(start: float, extent: float, length: int) -> tuple[int, int]:
    """Integer edges of ``[start, start + extent]`` inside ``[0, length]``, each rounded on its own
    (so each is within half a pixel of the exact one)."""
    low = min(max(int(round(start)), 0), length - 1)
    high = min(max(int(round(start + extent)), low + 1), length)
    return low, high
