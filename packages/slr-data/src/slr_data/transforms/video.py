"""The video transform: ``(T, H, W, 3) uint8`` -> normalised ``(T, 3, h, w) float32``.

Parameters are drawn once per video (:mod:`slr_data.transforms.params`), so every frame gets the
same crop, affine, flip, colour ops and erased rectangles (and erasing noise). Work is done on the
stacked uint8 array: a crop is a view, each frame is resized (or warped) once by OpenCV,
photometric ops are one LUT pass, and the only float conversion is the final normalisation (after
which noise-filled erasures are written, as they are in normalised units).
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np
import torch

from slr_data.transforms.config import EvalTransformConfig, TrainTransformConfig
from slr_data.transforms.ops import apply_color_ops
from slr_data.transforms.params import VideoAugParams, eval_params, sample_train_params

__all__ = ["TransformedVideo", "VideoTransform", "normalize_video", "random_generator"]


class TransformedVideo(NamedTuple):
    """Output of :class:`VideoTransform`.

    Attributes:
        frames: ``(T, 3, h, w)`` float32, normalised.
        keypoints: ``(T, K, 2)`` float32 output-pixel ``(x, y)`` of the given keypoints, or ``None``.
        params: the parameters that were applied.
    """

    frames: torch.Tensor
    keypoints: np.ndarray | None
    params: VideoAugParams


def random_generator() -> np.random.Generator:
    """A numpy generator seeded from torch's RNG (which DataLoader seeds per worker and epoch)."""
    return np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))


def normalize_video(video: np.ndarray, mean, std) -> torch.Tensor:
    """``(T, H, W, 3) uint8`` -> ``(T, 3, H, W) float32`` contiguous, ``(x / 255 - mean) / std``.

    Done by numpy in the calling thread: torch's intra-op pool would parallelise these
    element-wise ops and, on a busy CPU (the model training in the same process), stall on them.
    """
    count, height, width, _ = video.shape
    out = np.empty((count, 3, height, width), dtype=np.float32)
    scale = np.array([1.0 / (255.0 * s) for s in std], dtype=np.float32)[:, None, None]
    shift = np.array([m / s for m, s in zip(mean, std, strict=True)], dtype=np.float32)[:, None, None]
    np.multiply(video.transpose(0, 3, 1, 2), scale, out=out, dtype=np.float32)
    out -= shift
    return torch.from_numpy(out)


class VideoTransform:
    """Train or eval transform built from a frozen config.

    Call it as ``transform(video, rng=None, keypoints=None)`` with ``video`` a ``(T, H, W, 3)``
    uint8 RGB array and optional ``keypoints`` ``(T, K, 2)`` source-pixel ``(x, y)``.
    """

    def __init__(self, config: TrainTransformConfig | EvalTransformConfig):
        if not isinstance(config, (TrainTransformConfig, EvalTransformConfig)):
            raise TypeError(
                f"expected a TrainTransformConfig or EvalTransformConfig, got {type(config).__name__}"
            )
        self.config = config
        self.train = isinstance(config, TrainTransformConfig)

    def __repr__(self) -> str:
        return f"VideoTransform({self.config!r})"

    @property
    def out_size(self) -> tuple[int, int]:
        return self.config.size

    def sample_params(
        self, source_size: tuple[int, int], rng: np.random.Generator | None = None
    ) -> VideoAugParams:
        """Parameters for one video of frame size ``(H, W)`` (deterministic for eval)."""
        if not self.train:
            return eval_params(self.config, source_size)
        return sample_train_params(self.config, source_size, rng if rng is not None else random_generator())

    def apply(self, video: np.ndarray, params: VideoAugParams) -> np.ndarray:
        """Apply ``params`` to ``video``: ``(T, H, W, 3) uint8 -> (T, h, w, 3) uint8`` (new array)."""
        _check_video(video)
        if tuple(video.shape[1:3]) != tuple(params.source_size):
            raise ValueError(f"params are for frames {params.source_size}, video has {video.shape[1:3]}")
        crop_w, crop_h = params.crop[2:]
        shrink = crop_w >= 2 * params.out_size[1] or crop_h >= 2 * params.out_size[0]
        border = params.border_color
        warped = params.affine is not None or params.source_affine is not None
        if warped and not shrink:
            # one pass: source affine + crop + resize + affine as a single warp of the source frame
            out = _warp(video, params.geometry_matrix(), border, params.out_size)
        else:
            if params.source_affine is not None:  # a large shrink: warp the whole frame first ...
                video = _warp(video, params.source_affine, border, params.source_size)
            out = _crop_resize(video, params.crop, params.out_size)  # ... area-resize (no aliasing) ...
            if params.affine is not None:  # ... then warp the output
                out = _warp(out, params.affine, border, params.out_size)
        if params.flip:
            out = np.ascontiguousarray(out[:, :, ::-1])
        apply_color_ops(out, params.color_ops)
        for x0, y0, w, h in params.erase:
            out[:, y0 : y0 + h, x0 : x0 + w] = params.fill
        return out

    def finish(self, video: np.ndarray, params: VideoAugParams) -> torch.Tensor:
        """Normalise the output of :meth:`apply` and write the erasing noise of ``params``:
        ``(T, h, w, 3) uint8 -> (T, 3, h, w) float32``."""
        frames = normalize_video(video, self.config.mean, self.config.std)
        if params.erase_noise is not None:
            array = frames.numpy()
            for (x0, y0, w, h), noise in zip(params.erase, params.erase_noise, strict=True):
                array[:, :, y0 : y0 + h, x0 : x0 + w] = noise.transpose(2, 0, 1)
        return frames

    def __call__(
        self, video: np.ndarray, rng: np.random.Generator | None = None, keypoints: np.ndarray | None = None
    ) -> TransformedVideo:
        params = self.sample_params(video.shape[1:3], rng)
        frames = self.finish(self.apply(video, params), params)
        points = None
        if keypoints is not None:
            points = params.transform_points(np.asarray(keypoints)[..., :2]).astype(np.float32)
        return TransformedVideo(frames, points, params)


def _check_video(video: np.ndarray) -> None:
    if (
        not isinstance(video, np.ndarray)
        or video.dtype != np.uint8
        or video.ndim != 4
        or video.shape[-1] != 3
    ):
        shape = getattr(video, "shape", None)
        raise ValueError(f"expected a (T, H, W, 3) uint8 numpy array, got {type(video).__name__} {shape}")
    if video.shape[0] == 0:
        raise ValueError("video has no frames")


def _crop_resize(video: np.ndarray, crop, out_size) -> np.ndarray:
    x0, y0, w, h = crop
    out_h, out_w = out_size
    view = video[:, y0 : y0 + h, x0 : x0 + w]
    if (h, w) == (out_h, out_w):
        return np.ascontiguousarray(view)
    out = np.empty((video.shape[0], out_h, out_w, 3), dtype=np.uint8)
    shrink = w >= 2 * out_w or h >= 2 * out_h
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    for t in range(video.shape[0]):
        cv2.resize(view[t], (out_w, out_h), dst=out[t], interpolation=interpolation)
    return out


def _warp(video: np.ndarray, matrix: np.ndarray, fill, out_size) -> np.ndarray:
    """``cv2.warpAffine`` of every frame with the 2x3 forward ``matrix`` into ``out_size`` frames."""
    out_h, out_w = out_size
    out = np.empty((video.shape[0], out_h, out_w, 3), dtype=np.uint8)
    matrix = np.asarray(matrix, dtype=np.float64)
    border = tuple(int(v) for v in fill)
    for t in range(video.shape[0]):
        cv2.warpAffine(
            video[t],
            matrix,
            (out_w, out_h),
            dst=out[t],
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=border,
        )
    return out
