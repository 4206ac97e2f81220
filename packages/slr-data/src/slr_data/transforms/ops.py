"""Photometric ops on a whole video ``(T, H, W, 3) uint8`` at once, identical for every frame.

Per-pixel maps (brightness, contrast, posterize, solarize, solarize_add, invert, autocontrast,
equalize) are composed
into one per-channel lookup table and applied with a single ``cv2.LUT`` pass; the statistics
that contrast / autocontrast / equalize need come from the histogram of the whole video (so all
frames get the same map), pushed through the table built so far. Saturation (``color``) and
``sharpness`` mix neighbouring values and are applied frame by frame with OpenCV.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

__all__ = ["apply_color_ops", "video_histogram"]

_GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114])
_SHARPEN_KERNEL = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]], dtype=np.float32) / 13.0
_IDENTITY = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)


def video_histogram(video: np.ndarray) -> np.ndarray:
    """Per-channel histogram ``(256, 3)`` of a ``(T, H, W, 3) uint8`` video.

    Frames larger than 64x64 are sampled at every 2nd pixel in each direction (same pixels in
    every frame), which keeps the statistics while quartering the cost.
    """
    if video.shape[1] * video.shape[2] > 64 * 64:
        video = video[:, ::2, ::2]
    flat = video.reshape(-1, 3)
    return np.stack([np.bincount(flat[:, c], minlength=256) for c in range(3)], axis=1)


def _pushed_histogram(hist: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Histogram of ``lut[video]`` from the histogram of ``video``."""
    return np.stack([np.bincount(lut[:, c], weights=hist[:, c], minlength=256) for c in range(3)], axis=1)


def _blend_lut(lut: np.ndarray, target: np.ndarray | float, factor: float) -> np.ndarray:
    """``clip(target + factor * (lut - target))`` rounded, as PIL's ``ImageEnhance`` blends."""
    out = target + factor * (lut.astype(np.float64) - target)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _equalize_lut(hist: np.ndarray) -> np.ndarray:
    """PIL ``ImageOps.equalize`` per channel, from a ``(256, 3)`` histogram."""
    out = np.empty((256, 3), dtype=np.uint8)
    for c in range(3):
        h = hist[:, c]
        nonzero = np.flatnonzero(h)
        if nonzero.size == 0:
            out[:, c] = _IDENTITY[:, c]
            continue
        step = int((h.sum() - h[nonzero[-1]]) // 255)
        if step == 0:
            out[:, c] = _IDENTITY[:, c]
            continue
        cumulative = np.concatenate([[0], np.cumsum(h)[:-1]])
        out[:, c] = np.clip((cumulative + step // 2) // step, 0, 255)
    return out


def _autocontrast_lut(hist: np.ndarray) -> np.ndarray:
    out = np.empty((256, 3), dtype=np.uint8)
    values = np.arange(256, dtype=np.float64)
    for c in range(3):
        nonzero = np.flatnonzero(hist[:, c])
        low, high = (nonzero[0], nonzero[-1]) if nonzero.size else (0, 255)
        if high <= low:
            out[:, c] = _IDENTITY[:, c]
        else:
            out[:, c] = np.clip(np.rint((values - low) * 255.0 / (high - low)), 0, 255)
    return out


class _LutChain:
    """Accumulates per-pixel ops into one LUT; flushes it into the video when needed."""

    def __init__(self, video: np.ndarray):
        self.video = video
        self.lut = _IDENTITY.copy()
        self._hist: np.ndarray | None = None
        self.dirty = False

    def histogram(self) -> np.ndarray:
        if self._hist is None:
            self._hist = video_histogram(self.video)
        return _pushed_histogram(self._hist, self.lut) if self.dirty else self._hist

    def then(self, table: np.ndarray) -> None:
        """Compose: ``new(v) = table[old(v)]`` per channel."""
        self.lut = np.take_along_axis(table, self.lut.astype(np.intp), axis=0)
        self.dirty = True

    def flush(self) -> np.ndarray:
        if self.dirty:
            flat = self.video.reshape(-1, self.video.shape[-2], 3)
            cv2.LUT(flat, self.lut.reshape(256, 1, 3), dst=flat)
            self.lut = _IDENTITY.copy()
            self.dirty = False
            self._hist = None
        return self.video


def _per_frame_blend(video: np.ndarray, factor: float, make_target) -> None:
    for frame in video:
        target = make_target(frame)
        cv2.addWeighted(frame, factor, target, 1.0 - factor, 0.0, dst=frame)


def _gray3(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def _smooth(frame: np.ndarray) -> np.ndarray:
    blurred = cv2.filter2D(frame, -1, _SHARPEN_KERNEL, borderType=cv2.BORDER_REPLICATE)
    blurred[0, :], blurred[-1, :], blurred[:, 0], blurred[:, -1] = (
        frame[0, :],
        frame[-1, :],
        frame[:, 0],
        frame[:, -1],
    )
    return blurred


def apply_color_ops(video: np.ndarray, ops: Sequence[tuple[str, float]]) -> np.ndarray:
    """Apply ``ops`` (``(name, value)`` from :func:`~slr_data.transforms.params.sample_train_params`)
    to ``video`` ``(T, H, W, 3) uint8`` in place; returns ``video``.

    Values: enhancement factors (brightness, contrast, color, sharpness; 1 = unchanged), bits kept
    (posterize), threshold (solarize: values >= it are inverted), value added below 128
    (solarize_add); ignored for identity, invert, autocontrast, equalize.
    """
    if not ops:
        return video
    if video.dtype != np.uint8 or video.ndim != 4 or video.shape[-1] != 3 or not video.flags.c_contiguous:
        raise ValueError(f"expected a C-contiguous (T, H, W, 3) uint8 array, got {video.dtype} {video.shape}")
    chain = _LutChain(video)
    values = np.arange(256, dtype=np.float64)[:, None]
    for name, value in ops:
        if name == "brightness":
            chain.then(_blend_lut(_IDENTITY, 0.0, value))
        elif name == "contrast":
            hist = chain.histogram()
            mean_rgb = (hist * values).sum(axis=0) / max(1, hist[:, 0].sum())
            chain.then(_blend_lut(_IDENTITY, float(mean_rgb @ _GRAY_WEIGHTS), value))
        elif name == "posterize":
            mask = np.uint8((0xFF << (8 - int(value))) & 0xFF)
            chain.then(_IDENTITY & mask)
        elif name == "solarize":
            chain.then(np.where(_IDENTITY >= value, 255 - _IDENTITY, _IDENTITY).astype(np.uint8))
        elif name == "solarize_add":  # timm: values below 128 get ``value`` added (clipped at 255)
            added = np.minimum(_IDENTITY.astype(np.int64) + int(value), 255)
            chain.then(np.where(_IDENTITY < 128, added, _IDENTITY).astype(np.uint8))
        elif name == "invert":
            chain.then(255 - _IDENTITY)
        elif name == "autocontrast":
            chain.then(_autocontrast_lut(chain.histogram()))
        elif name == "equalize":
            chain.then(_equalize_lut(chain.histogram()))
        elif name == "color":
            _per_frame_blend(chain.flush(), value, _gray3)
        elif name == "sharpness":
            _per_frame_blend(chain.flush(), value, _smooth)
        elif name != "identity":
            raise ValueError(f"unknown colour op {name!r}")
    return chain.flush()
