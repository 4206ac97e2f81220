"""Keypoint heatmaps, the optional second modality (as in two-stream CSLR models).

Keypoints: 121 per frame, grouped body ``0-10``, face ``11-58``, mouth ``59-78``, hands
``79-120``. That is COCO-WholeBody (133 points) without the lower body and feet (points 11-22),
so 133-point files are converted on load. A keypoint file is a pickle (or ``.npy``) of
``{video_id: array (T, K, 2 or 3)}`` (``x, y[, score]`` in source-frame pixels) or
``{video_id: {"keypoints": array}}``; it is read with the restricted unpickler.
Heatmaps are Gaussians rendered after the frames' geometric augmentation, so they stay aligned.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from slr_data.errors import DataFormatError
from slr_data.safe_pickle import load_pickle

__all__ = [
    "NUM_KEYPOINTS",
    "KEYPOINT_GROUPS",
    "COCO_WHOLEBODY_TO_121",
    "HeatmapConfig",
    "load_keypoints",
    "to_121_keypoints",
    "render_heatmaps",
]

NUM_KEYPOINTS = 121
KEYPOINT_GROUPS: dict[str, range] = {
    "body": range(0, 11),
    "face": range(11, 59),
    "mouth": range(59, 79),
    "hands": range(79, 121),
}
#: COCO-WholeBody index of each of the 121 keypoints (upper body 0-10, face 23-90, hands 91-132).
COCO_WHOLEBODY_TO_121 = np.r_[0:11, 23:133]


@dataclass(frozen=True)
class HeatmapConfig:
    """How keypoints become heatmaps.

    Attributes:
        size: ``(h, w)`` of each heatmap (the frame is mapped onto it).
        sigma: Gaussian standard deviation in heatmap pixels.
        score_threshold: keypoints with score ``<=`` this (or non-finite) give an all-zero map.
        normalized_coords: keypoints are in ``[0, 1]`` (multiplied by the frame size on load).

    Memory: ``T * 121 * h * w * 4`` bytes per video (140 frames at 32x32: 69 MB).
    """

    size: tuple[int, int] = (32, 32)
    sigma: float = 1.5
    score_threshold: float = 0.0
    normalized_coords: bool = False

    def __post_init__(self):
        size = (self.size, self.size) if isinstance(self.size, int) else tuple(int(s) for s in self.size)
        if len(size) != 2 or min(size) <= 0 or self.sigma <= 0:
            raise ValueError(f"need a positive (h, w) size and sigma, got {self.size}, {self.sigma}")
        object.__setattr__(self, "size", size)


def to_121_keypoints(array, *, source: str = "<keypoints>", entry=None) -> np.ndarray:
    """Validate one video's keypoints and return ``(T, 121, 3)`` float32 (score 1 when absent)."""
    array = np.asarray(array)
    if array.ndim != 3 or array.shape[-1] not in (2, 3) or not np.issubdtype(array.dtype, np.number):
        raise DataFormatError(
            source, f"expected a numeric (T, K, 2|3) array, got {array.dtype} {array.shape}", entry=entry
        )
    if array.shape[1] == 133:
        array = array[:, COCO_WHOLEBODY_TO_121]
    elif array.shape[1] != NUM_KEYPOINTS:
        raise DataFormatError(
            source, f"expected 121 (or 133 COCO-WholeBody) keypoints, got {array.shape[1]}", entry=entry
        )
    out = np.ones((*array.shape[:2], 3), dtype=np.float32)
    out[..., : array.shape[-1]] = array
    return out


def load_keypoints(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a keypoint pickle safely: ``{video_id: (T, 121, 3) float32}`` (``x, y, score``)."""
    raw = load_pickle(path)
    if not isinstance(raw, Mapping):
        raise DataFormatError(path, f"expected a dict of video id -> keypoints, got {type(raw).__name__}")
    out = {}
    for video_id, value in raw.items():
        if isinstance(value, Mapping):
            if "keypoints" not in value:
                raise DataFormatError(path, "dict entry without a 'keypoints' array", entry=video_id)
            value = value["keypoints"]
        out[str(video_id)] = to_121_keypoints(value, source=os.fspath(path), entry=video_id)
    return out


def render_heatmaps(
    points: np.ndarray,
    scores: np.ndarray | None,
    size: tuple[int, int],
    sigma: float,
    score_threshold: float = 0.0,
) -> np.ndarray:
    """Gaussian heatmaps.

    Args:
        points: ``(T, K, 2)`` ``(x, y)`` in heatmap pixel coordinates.
        scores: ``(T, K)`` confidences or ``None`` (all visible).
        size: ``(h, w)``.

    Returns:
        ``(T, K, h, w)`` float32 with peak 1 at each visible keypoint (separable: outer product of
        the x and y Gaussians).
    """
    points = np.asarray(points, dtype=np.float32)
    height, width = size
    visible = np.all(np.isfinite(points), axis=-1)
    if scores is not None:
        visible &= np.asarray(scores) > score_threshold
    safe = np.where(visible[..., None], points, -1e4).astype(np.float32)
    inv = np.float32(-0.5 / sigma**2)
    gx = np.exp(inv * (np.arange(width, dtype=np.float32) - safe[..., 0:1]) ** 2)
    gy = np.exp(inv * (np.arange(height, dtype=np.float32) - safe[..., 1:2]) ** 2)
    gy *= visible[..., None]
    return gy[..., :, None] * gx[..., None, :]
