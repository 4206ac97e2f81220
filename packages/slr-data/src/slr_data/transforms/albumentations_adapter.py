"""A user's own albumentations 2.x pipeline as a video transform, beside slr-data's faster ops.

The config names a factory by import path, ``"package.module:function"``: a function called with
no arguments that returns an ``albumentations.Compose``. That is code the user names explicitly
in their config (like a model class in a training script): it is imported and called when the
config is built, never because a pickle or YAML tag said so. The pipeline is run as
``compose(images=video)``, which in albumentations 2.x draws the random parameters once and
applies them to every frame, so a video gets one crop, one rotation, one colour jitter.

Keypoints (``(T, K, 2)`` source pixels, as :class:`~slr_data.transforms.VideoTransform` takes
them) go through albumentations as keypoints (``format="xy"``, none removed, invisible/non-finite
ones kept as they are); :class:`~slr_data.VideoDataset` renders its heatmaps from the returned
output-pixel points, as it does with slr-data's own transforms, so geometric ops move the
heatmaps and pixel-level ops leave them. Albumentations' coordinate conventions apply (flips
mirror about pixel centres, ``x -> w - 1 - x``, as slr-data does, without swapping left and right
keypoints; resizes scale ``x * s``, within half an output pixel of slr-data's pixel-centre
mapping). Heatmaps already aligned with the frames (``(T, C, H, W)`` float32 in ``[0, 1]``) can
be passed instead / as well: they go through as masks, resampled bilinearly, and borders fill 0.

albumentations is an optional dependency (``pip install 'slr-data[albumentations]'``); it is
imported only when an :class:`AlbumentationsConfig` is built.
"""

from __future__ import annotations

import importlib
import re
import warnings
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from slr_data.errors import DataError
from slr_data.transforms.config import _check_norm, _size
from slr_data.transforms.video import _check_video, normalize_video, random_generator

__all__ = [
    "ALBUMENTATIONS_PROFILE",
    "AlbumentationsConfig",
    "AlbumentationsFactoryError",
    "AlbumentationsVideo",
    "AlbumentationsVideoTransform",
    "MissingDependencyError",
    "import_albumentations",
    "parse_factory_path",
]

#: The ``data.augment`` value (slr-phoenix) selecting a user's albumentations pipeline.
ALBUMENTATIONS_PROFILE = "albumentations"
_FACTORY_PATH = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


class MissingDependencyError(DataError, ImportError):
    """An optional dependency of slr-data is not installed."""


class AlbumentationsFactoryError(DataError, ValueError):
    """The albumentations factory path cannot be imported, or does not give an ``A.Compose``."""

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(f"albumentations factory {path!r}: {message}")


def import_albumentations():
    """``import albumentations`` or a :class:`MissingDependencyError` saying how to install it."""
    try:
        import albumentations
    except ImportError as exc:
        raise MissingDependencyError(
            f"albumentations is not installed ({exc}); install it with "
            "pip install 'slr-data[albumentations]' (albumentations 2.x)"
        ) from None
    return albumentations


def parse_factory_path(path: str) -> tuple[str, str]:
    """``"package.module:function"`` -> ``("package.module", "function")`` (nothing imported).

    The attribute may be dotted (``"pkg.mod:Class.method"``).
    """
    if not isinstance(path, str) or not _FACTORY_PATH.fullmatch(path):
        raise AlbumentationsFactoryError(
            str(path), "expected an import path 'package.module:function' (a function returning A.Compose)"
        )
    module, attribute = path.split(":")
    return module, attribute


def _load_factory(path: str):
    module_name, attribute = parse_factory_path(path)
    try:
        target = importlib.import_module(module_name)
    except ImportError as exc:
        raise AlbumentationsFactoryError(path, f"cannot import module {module_name!r} ({exc})") from None
    for name in attribute.split("."):
        if not hasattr(target, name):
            raise AlbumentationsFactoryError(path, f"module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, name)
    if not callable(target):
        raise AlbumentationsFactoryError(path, f"{attribute!r} is a {type(target).__name__}, not a function")
    return target


@dataclass(frozen=True)
class AlbumentationsConfig:
    """A user's albumentations pipeline applied video-consistently.

    Shapes: ``(T, H, W, 3) uint8 -> (T, 3, size_h, size_w) float32``.

    Attributes:
        factory: ``"package.module:function"``; ``function()`` returns an ``albumentations.Compose``
            (imported and called when the config is built, so a bad path fails here).
        size: output size (int or ``(h, w)``) the pipeline produces (checked on every video).
        train: a training transform (temporal sampling random in :class:`~slr_data.VideoDataset`;
            a fresh parameter draw per video); ``False``: the pipeline is run with a fixed seed.
        mean, std: per-channel normalisation of uint8 outputs (RGB, 0..1 scale). A pipeline whose
            output is float32 (it ends with ``A.Normalize``) is taken as normalised already.
    """

    factory: str
    size: tuple[int, int] | int = 224
    train: bool = True
    mean: tuple[float, float, float] = (0.45, 0.45, 0.45)
    std: tuple[float, float, float] = (0.225, 0.225, 0.225)

    def __post_init__(self):
        object.__setattr__(self, "size", _size(self.size))
        _check_norm(self.mean, self.std)
        object.__setattr__(self, "mean", tuple(float(m) for m in self.mean))
        object.__setattr__(self, "std", tuple(float(s) for s in self.std))
        if not isinstance(self.train, bool):
            raise ValueError(f"train must be True or False, got {self.train!r}")
        self.build_pipeline()

    def build_pipeline(self):
        """Import ``factory``, call it and return its ``albumentations.Compose``."""
        albumentations = import_albumentations()
        factory = _load_factory(self.factory)
        try:
            pipeline = factory()
        except Exception as exc:  # the user's code: report it as a config error naming the path
            message = f"calling it failed: {type(exc).__name__}: {exc}"
            raise AlbumentationsFactoryError(self.factory, message) from exc
        if not isinstance(pipeline, albumentations.Compose):
            raise AlbumentationsFactoryError(
                self.factory, f"returned a {type(pipeline).__name__}, expected an albumentations.Compose"
            )
        return pipeline

    def to_dict(self) -> dict:
        return {"kind": "albumentations", "factory": self.factory, "size": list(self.size),
                "train": self.train, "mean": list(self.mean), "std": list(self.std)}


class AlbumentationsVideo(NamedTuple):
    """Output of :class:`AlbumentationsVideoTransform`.

    Attributes:
        frames: ``(T, 3, h, w)`` float32, normalised.
        keypoints: ``(T, K, 2)`` float32 output-pixel ``(x, y)`` of the given keypoints, or ``None``.
        params: albumentations' applied transforms, ``[(name, params), ...]`` (the same for every frame).
        heatmaps: ``(T, C, h, w)`` float32 of the given heatmaps, or ``None``.
    """

    frames: torch.Tensor
    keypoints: np.ndarray | None
    params: list[tuple[str, dict[str, Any]]]
    heatmaps: np.ndarray | None = None


class AlbumentationsVideoTransform:
    """Runs an :class:`AlbumentationsConfig` pipeline on whole videos.

    Call it as ``transform(video, rng=None, keypoints=None, heatmaps=None)``, like
    :class:`~slr_data.transforms.VideoTransform`: ``video`` ``(T, H, W, 3)`` uint8 RGB, optional
    ``keypoints`` ``(T, K, 2)`` source-pixel ``(x, y)`` and ``heatmaps`` ``(T, C, H, W)`` float32.
    The pipeline's random state is seeded from ``rng`` (default: torch's RNG, seeded per DataLoader
    worker and epoch), so a seeded ``rng`` reproduces the video.
    """

    def __init__(self, config: AlbumentationsConfig):
        if not isinstance(config, AlbumentationsConfig):
            raise TypeError(f"expected an AlbumentationsConfig, got {type(config).__name__}")
        self.config = config
        self.train = config.train
        self._pipeline = self._wrap(config.build_pipeline())

    @staticmethod
    def _wrap(pipeline):
        albumentations = import_albumentations()
        # Keypoints as flat (x, y) rows (one draw for every frame, so all frames' points at once);
        # masks (heatmaps) resampled bilinearly; applied params kept for inspection.
        with warnings.catch_warnings():  # a pixel-level-only pipeline has no op that moves keypoints: fine
            warnings.filterwarnings("ignore", message="Got processor for keypoints", category=UserWarning)
            return albumentations.Compose(
                [pipeline],
                keypoint_params=albumentations.KeypointParams(format="xy", remove_invisible=False),
                mask_interpolation=1,  # cv2.INTER_LINEAR
                save_applied_params=True,
            )

    def __getstate__(self):  # DataLoader workers started by spawn rebuild the pipeline from the config
        return {"config": self.config}

    def __setstate__(self, state):
        self.__init__(state["config"])

    def __repr__(self) -> str:
        return f"AlbumentationsVideoTransform({self.config!r})"

    @property
    def out_size(self) -> tuple[int, int]:
        return self.config.size

    def __call__(
        self,
        video: np.ndarray,
        rng: np.random.Generator | None = None,
        keypoints: np.ndarray | None = None,
        heatmaps: np.ndarray | None = None,
    ) -> AlbumentationsVideo:
        _check_video(video)
        count, height, width = video.shape[:3]
        data: dict[str, Any] = {"images": video}
        if keypoints is not None:
            keypoints = np.asarray(keypoints, dtype=np.float32)[..., :2]
            if keypoints.ndim != 3 or keypoints.shape[0] != count:
                raise ValueError(f"expected ({count}, K, 2) keypoints, got {keypoints.shape}")
            data["keypoints"] = keypoints.reshape(-1, 2)
        if heatmaps is not None:
            heatmaps = np.asarray(heatmaps)
            if heatmaps.ndim != 4 or heatmaps.shape[0] != count or heatmaps.shape[2:] != (height, width):
                raise ValueError(f"expected ({count}, C, {height}, {width}) heatmaps (frame-aligned), "
                                 f"got {heatmaps.shape}")
            data["masks"] = np.ascontiguousarray(heatmaps.transpose(0, 2, 3, 1), dtype=np.float32)
        if self.train:
            seed = int((rng if rng is not None else random_generator()).integers(0, 2**32))
        else:
            seed = 0
        self._pipeline.set_random_seed(seed)
        out = self._pipeline(**data)
        frames = self._frames(out["images"], count)
        points = None
        if keypoints is not None:
            points = np.asarray(out["keypoints"], dtype=np.float32)[:, :2]
            expected = keypoints.shape[0] * keypoints.shape[1]
            if len(points) != expected:
                raise AlbumentationsFactoryError(
                    self.config.factory, f"pipeline returned {len(points)} of the {expected} keypoints "
                    "(it must keep every keypoint, in order)"
                )
            points = points.reshape(keypoints.shape)
        maps = None
        if heatmaps is not None:
            maps = np.ascontiguousarray(np.asarray(out["masks"], dtype=np.float32).transpose(0, 3, 1, 2))
        return AlbumentationsVideo(frames, points, list(out.get("applied_transforms", [])), maps)

    def _frames(self, images, count: int) -> torch.Tensor:
        images = np.asarray(images)
        expected = (count, *self.config.size, 3)
        if images.shape != expected or images.dtype not in (np.uint8, np.float32):
            raise AlbumentationsFactoryError(
                self.config.factory,
                f"pipeline gave {images.dtype} frames {images.shape}, expected uint8 (or normalised "
                f"float32) {expected} (AlbumentationsConfig.size {self.config.size})",
            )
        if images.dtype == np.uint8:
            return normalize_video(np.ascontiguousarray(images), self.config.mean, self.config.std)
        return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
