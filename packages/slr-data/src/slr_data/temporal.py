"""Which frames of a video to load: interval subsampling, temporal rescaling, max-length crop.

Only the selected frames are decoded, so subsampling also saves decoding time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

__all__ = ["TemporalConfig", "sample_frame_indices", "eval_length"]


@dataclass(frozen=True)
class TemporalConfig:
    """Temporal sampling of one video.

    Attributes:
        frame_interval: keep every ``k``-th frame (PHOENIX is 25 fps; ``k = 1`` keeps all).
        random_offset: in training, start at a random frame in ``[0, k)`` (eval starts at 0).
        rescale: in training, change the length by a random factor in ``[1 - r, 1 + r]``
            (frames are dropped or repeated uniformly; 0.2 = +-20 %).
        max_frames: crop longer sequences to this many frames (random window in training,
            centred in eval); ``None`` keeps everything.
        min_frames: never return fewer frames than this (short videos repeat frames).
    """

    frame_interval: int = 1
    random_offset: bool = True
    rescale: float = 0.0
    max_frames: int | None = None
    min_frames: int = 1

    def __post_init__(self):
        if self.frame_interval < 1:
            raise ValueError(f"frame_interval must be >= 1, got {self.frame_interval}")
        if not 0 <= self.rescale < 1:
            raise ValueError(f"rescale must lie in [0, 1), got {self.rescale}")
        if self.min_frames < 1 or (self.max_frames is not None and self.max_frames < self.min_frames):
            raise ValueError(f"need 1 <= min_frames <= max_frames, got {self.min_frames}, {self.max_frames}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _resample(indices: np.ndarray, length: int, phase: float) -> np.ndarray:
    """``length`` evenly spaced picks from ``indices`` (repeats when ``length > len``)."""
    positions = (np.arange(length) + phase) * (len(indices) / length)
    return indices[np.minimum(positions.astype(np.int64), len(indices) - 1)]


def sample_frame_indices(
    num_frames: int,
    config: TemporalConfig,
    *,
    train: bool,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Indices (into the video's ``num_frames`` frames) of the frames to load, in order.

    Returns:
        ``(T',)`` int64 array; eval results are deterministic.
    """
    if num_frames < 1:
        raise ValueError(f"a video needs at least one frame, got {num_frames}")
    if train and rng is None:
        raise ValueError("training sampling needs an rng")
    k = config.frame_interval
    offset = int(rng.integers(0, min(k, num_frames))) if (train and config.random_offset and k > 1) else 0
    indices = np.arange(offset, num_frames, k, dtype=np.int64)
    if train and config.rescale > 0:
        factor = rng.uniform(1.0 - config.rescale, 1.0 + config.rescale)
        length = max(1, int(round(len(indices) * factor)))
        indices = _resample(indices, length, float(rng.uniform(0.0, 1.0)))
    if len(indices) < config.min_frames:
        indices = _resample(indices, config.min_frames, 0.5)
    if config.max_frames is not None and len(indices) > config.max_frames:
        extra = len(indices) - config.max_frames
        start = int(rng.integers(0, extra + 1)) if train else extra // 2
        indices = indices[start : start + config.max_frames]
    return indices


def eval_length(num_frames: int, config: TemporalConfig) -> int:
    """Frames :func:`sample_frame_indices` returns in eval mode (the training mean, for bucketing)."""
    length = len(range(0, num_frames, config.frame_interval)) if num_frames > 0 else 0
    length = max(length, config.min_frames)
    if config.max_frames is not None:
        length = min(length, config.max_frames)
    return length
