"""Crop-box sampling: random resized crops, the mean train crop (for eval), erased rectangles.

Boxes are ``(x0, y0, w, h)`` integers in pixels.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["random_resized_crop", "mean_random_resized_crop", "erase_boxes"]

_ATTEMPTS = 10
_GRID = 600


def random_resized_crop(
    height: int, width: int, scale, ratio, rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """torchvision's RandomResizedCrop box: area ``scale`` of the frame, aspect ``w / h`` log-uniform
    in ``ratio``.

    Up to 10 attempts; if none fits, the largest centred box whose aspect is clamped to ``ratio``.
    """
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(_ATTEMPTS):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(*log_ratio))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1)), w, h
    w, h = _fallback_size(height, width, ratio)
    return (width - w) // 2, (height - h) // 2, w, h


def _fallback_size(height: int, width: int, ratio) -> tuple[int, int]:
    in_ratio = width / height
    if in_ratio < ratio[0]:
        return width, int(round(width / ratio[0]))
    if in_ratio > ratio[1]:
        return int(round(height * ratio[1])), height
    return width, height


@functools.lru_cache(maxsize=64)
def mean_random_resized_crop(
    height: int, width: int, scale: tuple[float, float], ratio: tuple[float, float]
) -> tuple[float, float, float, float]:
    """Mean box ``(x0, y0, w, h)`` (floats, pixels) of :func:`random_resized_crop` on a frame of
    ``height x width``.

    Deterministic: the area fraction and the log-aspect are integrated on a 600 x 600 midpoint grid
    with the same rounding and fit test, the attempts are independent (a box is the first fitting
    draw, so it follows the fitting draws' distribution), and the fallback box enters with the
    probability that all 10 attempts fail. A fitting box's position is uniform over the places it
    fits, so its mean is centred; the fallback box sits at ``(width - w) // 2``.
    """
    steps = (np.arange(_GRID) + 0.5) / _GRID
    target = height * width * (scale[0] + (scale[1] - scale[0]) * steps)[:, None]
    log_low, log_high = math.log(ratio[0]), math.log(ratio[1])
    aspect = np.exp(log_low + (log_high - log_low) * steps)[None, :]
    w = np.rint(np.sqrt(target * aspect))
    h = np.rint(np.sqrt(target / aspect))
    fits = (w > 0) & (w <= width) & (h > 0) & (h <= height)
    fallback_w, fallback_h = _fallback_size(height, width, ratio)
    fallback = ((width - fallback_w) // 2, (height - fallback_h) // 2, fallback_w, fallback_h)
    fit_rate = float(fits.mean())
    if fit_rate == 0.0:
        return tuple(float(v) for v in fallback)
    all_fail = (1.0 - fit_rate) ** _ATTEMPTS
    mean_w, mean_h = float(w[fits].mean()), float(h[fits].mean())
    fitting = ((width - mean_w) / 2, (height - mean_h) / 2, mean_w, mean_h)
    return tuple((1 - all_fail) * a + all_fail * b for a, b in zip(fitting, fallback, strict=True))


def erase_boxes(
    out_size, scale, ratio, max_count: int, rng: np.random.Generator
) -> tuple[tuple[int, int, int, int], ...]:
    """timm's random-erasing rectangles in an ``out_size = (h, w)`` frame.

    ``count`` is uniform in ``1..max_count`` (not drawn when ``max_count == 1``); each box has area
    ``uniform(scale) * area / count`` and aspect ``h / w`` log-uniform in ``ratio``, and must lie strictly
    inside the frame (10 attempts, else that box is dropped).
    """
    out_h, out_w = out_size
    count = 1 if max_count == 1 else int(rng.integers(1, max_count + 1))
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    boxes = []
    for _ in range(count):
        for _ in range(_ATTEMPTS):
            target = out_h * out_w * rng.uniform(*scale) / count
            aspect = math.exp(rng.uniform(*log_ratio))
            h = int(round(math.sqrt(target * aspect)))
            w = int(round(math.sqrt(target / aspect)))
            if 0 < h < out_h and 0 < w < out_w:
                boxes.append((int(rng.integers(0, out_w - w + 1)), int(rng.integers(0, out_h - h + 1)), w, h))
                break
    return tuple(boxes)
