"""Keypoint heatmaps, the optional second modality (as in two-stream CSLR models).

Keypoints: 121 per frame, grouped body ``0-10``, face ``11-58``, mouth ``59-78``, hands
``79-120``. That is COCO-WholeBody (133 points) without the lower body and feet (points 11-22),
so 133-point files are converted on load. A keypoint file is a pickle (or ``.npy``) of
``{video_id: array (T, K, 2 or 3)}`` (``x, y[, score]`` in source-frame pixels) or
``{video_id: {"keypoints": array}}``; it is read with the restricted unpickler.
Heatmaps are Gaussians rendered after the frames' geometric augmentation, so they stay aligned:
one map per keypoint of the chosen groups, one per group, or a single map (the maximum over the
chosen keypoints, Mamba_SLR's / TwoStream-SLR's one heatmap channel), see :class:`HeatmapConfig`.
Keypoint files of real corpora (TwoStream-SLR's HRNet pickles) are read by :mod:`slr_data.keypoints`.
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
    "HEATMAP_MERGES",
    "HeatmapConfig",
    "keypoints_from_mapping",
    "load_keypoints",
    "render_keypoint_heatmaps",
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
#: ``HeatmapConfig.merge`` values: a map per keypoint, per group, or one map for all.
HEATMAP_MERGES = ("none", "group", "all")


@dataclass(frozen=True)
class HeatmapConfig:
    """How keypoints become heatmaps.

    Attributes:
        size: ``(h, w)`` of each heatmap (the frame is mapped onto it).
        sigma: Gaussian standard deviation in heatmap pixels.
        score_threshold: keypoints with score ``<=`` this (or non-finite) give an all-zero map.
        normalized_coords: keypoints are in ``[0, 1]`` (multiplied by the frame size on load).
        groups: the :data:`KEYPOINT_GROUPS` rendered, in this order (default: all 121 points).
        merge: ``"none"``: one map per keypoint of ``groups``; ``"group"``: one map per group
            (the maximum of its keypoints' Gaussians); ``"all"``: a single map, the maximum over
            every keypoint of ``groups`` (Mamba_SLR renders face, mouth and hands this way).

    :attr:`channels` is the number of maps per frame (the model's ``heatmap_channels``). Memory:
    ``T * channels * h * w * 4`` bytes per video (140 frames, 121 maps at 32x32: 69 MB).
    """

    size: tuple[int, int] = (32, 32)
    sigma: float = 1.5
    score_threshold: float = 0.0
    normalized_coords: bool = False
    groups: tuple[str, ...] = tuple(KEYPOINT_GROUPS)
    merge: str = "none"

    def __post_init__(self):
        size = (self.size, self.size) if isinstance(self.size, int) else tuple(int(s) for s in self.size)
        if len(size) != 2 or min(size) <= 0 or self.sigma <= 0:
            raise ValueError(f"need a positive (h, w) size and sigma, got {self.size}, {self.sigma}")
        object.__setattr__(self, "size", size)
        groups = (self.groups,) if isinstance(self.groups, str) else tuple(self.groups)
        unknown = [g for g in groups if g not in KEYPOINT_GROUPS]
        if not groups or unknown or len(set(groups)) != len(groups):
            raise ValueError(
                f"groups must be distinct names out of {tuple(KEYPOINT_GROUPS)}, got {self.groups!r}"
            )
        object.__setattr__(self, "groups", groups)
        if self.merge not in HEATMAP_MERGES:
            raise ValueError(f"merge must be one of {HEATMAP_MERGES}, got {self.merge!r}")

    @property
    def channels(self) -> int:
        """Heatmaps per frame: keypoints in ``groups`` (``merge="none"``), groups, or 1."""
        if self.merge == "all":
            return 1
        if self.merge == "group":
            return len(self.groups)
        return sum(len(KEYPOINT_GROUPS[g]) for g in self.groups)


def to_121_keypoints(array, *, source: str = "<keypoints>", entry=None) -> np.ndarray:
    """Validate one video's keypoints and return ``(T, 121, 3)`` float32 (score 1 when absent).

    Accepts ``(T, 121 | 133, 2 | 3)`` integer or float arrays with ``T >= 1`` (133-point
    COCO-WholeBody arrays lose the lower body and feet); anything else raises
    :class:`~slr_data.errors.DataFormatError` naming ``source`` and ``entry``.
    """
    try:
        array = np.asarray(array)
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise DataFormatError(f"keypoints are not an array ({exc})", source, key=entry) from None
    numeric = np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    if array.ndim != 3 or array.shape[-1] not in (2, 3) or not numeric or array.shape[0] < 1:
        raise DataFormatError(
            f"expected a real-valued (T, K, 2|3) array with T >= 1, got {array.dtype} {array.shape}",
            source,
            key=entry,
        )
    if array.shape[1] == 133:
        array = array[:, COCO_WHOLEBODY_TO_121]
    elif array.shape[1] != NUM_KEYPOINTS:
        raise DataFormatError(
            f"expected 121 (or 133 COCO-WholeBody) keypoints, got {array.shape[1]}", source, key=entry
        )
    out = np.ones((*array.shape[:2], 3), dtype=np.float32)
    out[..., : array.shape[-1]] = array
    return out


def keypoints_from_mapping(
    raw, source: str | os.PathLike = "<keypoints>", *, consume: bool = False
) -> dict[str, np.ndarray]:
    """``{key: array | {"keypoints": array, ...}}`` -> ``{str(key): (T, 121, 3) float32}``.

    ``consume=True`` empties ``raw`` (a ``dict``) while converting it, so the original arrays are
    freed one by one (a real keypoint file holds gigabytes).
    """
    source = os.fspath(source)
    if not isinstance(raw, Mapping):
        raise DataFormatError(f"expected a dict of video key -> keypoints, got {type(raw).__name__}", source)
    out = {}
    consume = consume and isinstance(raw, dict)
    for key in list(raw):
        value = raw.pop(key) if consume else raw[key]
        if isinstance(value, Mapping):
            if "keypoints" not in value:
                keys = sorted(map(str, value))
                message = f"dict entry without a 'keypoints' array (keys {keys})"
                raise DataFormatError(message, source, key=key)
            value = value["keypoints"]
        out[str(key)] = to_121_keypoints(value, source=source, entry=key)
    return out


def load_keypoints(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a keypoint pickle safely: ``{video_id: (T, 121, 3) float32}`` (``x, y, score``)."""
    return keypoints_from_mapping(load_pickle(path), path, consume=True)


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


#: frames rendered at once when maps are merged (bounds the ``(t, K, h, w)`` temporary)
_MERGE_CHUNK = 16


def render_keypoint_heatmaps(
    points: np.ndarray, scores: np.ndarray | None, config: HeatmapConfig
) -> np.ndarray:
    """The heatmaps ``config`` describes, from all 121 keypoints.

    Args:
        points: ``(T, 121, 2)`` ``(x, y)`` in heatmap pixel coordinates.
        scores: ``(T, 121)`` confidences or ``None``.

    Returns:
        ``(T, config.channels, h, w)`` float32 in ``[0, 1]``: channels follow ``config.groups``
        (per keypoint in index order, per group, or one merged map).
    """
    points = np.asarray(points, dtype=np.float32)
    if points.ndim != 3 or points.shape[1:] != (NUM_KEYPOINTS, 2):
        raise ValueError(f"expected (T, {NUM_KEYPOINTS}, 2) points, got {points.shape}")
    args = (config.size, config.sigma, config.score_threshold)
    selected = [np.asarray(KEYPOINT_GROUPS[g]) for g in config.groups]

    def pick(index: np.ndarray, frames: slice) -> tuple[np.ndarray, np.ndarray | None]:
        return points[frames, index], None if scores is None else np.asarray(scores)[frames, index]

    if config.merge == "none":
        return render_heatmaps(*pick(np.concatenate(selected), slice(None)), *args)
    out = np.zeros((len(points), config.channels, *config.size), dtype=np.float32)
    for start in range(0, len(points), _MERGE_CHUNK):
        frames = slice(start, start + _MERGE_CHUNK)
        for channel, index in enumerate(selected):
            target = out[frames, 0 if config.merge == "all" else channel]
            np.maximum(target, render_heatmaps(*pick(index, frames), *args).max(axis=1), out=target)
    return out
