"""The map-style dataset: record -> decoded, sampled, augmented :class:`VideoSample`."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from slr_data.collate import VideoSample
from slr_data.corpus.records import VideoRecord
from slr_data.errors import DataFormatError, FrameReadError, UnknownGlossError
from slr_data.frames import decode_frames
from slr_data.heatmaps import HeatmapConfig, keypoints_from_mapping, render_keypoint_heatmaps
from slr_data.image_header import check_image_file
from slr_data.keypoints import KeypointSet, load_keypoint_file
from slr_data.limits import DataLimits, get_limits
from slr_data.temporal import TemporalConfig, eval_length, sample_frame_indices
from slr_data.transforms.albumentations_adapter import AlbumentationsConfig, AlbumentationsVideoTransform
from slr_data.transforms.config import EvalTransformConfig, TrainTransformConfig
from slr_data.transforms.video import VideoTransform, random_generator
from slr_data.vocabulary import Vocabulary

__all__ = ["VideoDataset", "ON_ERROR"]

ON_ERROR = ("raise", "skip")


class VideoDataset(Dataset):
    """Videos of one split as :class:`~slr_data.collate.VideoSample` items.

    Args:
        records: the split's :class:`~slr_data.corpus.VideoRecord` list.
        vocab: encodes the labels; all labels are encoded here, up front, so unknown glosses
            (policy ``"error"``) fail at construction, all listed in one error.
        transform: a :class:`~slr_data.transforms.VideoTransform` or its config (or an
            :class:`~slr_data.transforms.AlbumentationsVideoTransform` or its config: a user's
            albumentations pipeline); train configs also make temporal sampling random.
        temporal: frame interval / rescale / max length (:class:`~slr_data.temporal.TemporalConfig`).
        keypoints: a :class:`~slr_data.keypoints.KeypointSet` (e.g. a TwoStream-SLR file read by
            :func:`~slr_data.keypoints.load_keypoint_file`, coordinates of 256x256 frames), or
            ``{video_id: (T, 121, 2|3)}`` / a keypoint pickle path with coordinates in the
            loaded frames' pixels; enables ``heatmaps``. Checked here: every record needs an
            entry with one row per frame (``num_frames``), else
            :class:`~slr_data.errors.DataFormatError` naming the file and the video (whatever
            ``on_error``). Rows follow the frame indices the temporal sampler picks.
        heatmaps: heatmap rendering config (default :class:`~slr_data.heatmaps.HeatmapConfig()`
            when keypoints are given); ``heatmaps.channels`` maps per frame.
        on_error: ``"raise"`` (default) raises :class:`~slr_data.errors.FrameReadError` naming the
            missing / corrupt frame; ``"skip"`` warns, counts it in ``num_skipped`` (per process)
            and returns ``None``, which the collate functions drop.
        seed: ``None`` draws augmentation from torch's RNG (seeded per DataLoader worker and
            epoch); an int makes item ``i`` of epoch ``e`` (:meth:`set_epoch`) reproducible.
        decode_threads: threads decoding one video's frames (``None``: up to 4).
        preload: decode every video once, now, and keep the uint8 frames in memory (``T*H*W*3``
            bytes per video: 640 MB for the default synthetic corpus at 64 px); items then skip
            file I/O and PNG decoding. DataLoader workers (fork) share the preloaded arrays.
        limits: frame size / count / decoded-size bounds (:class:`~slr_data.limits.DataLimits`);
            default: :func:`~slr_data.limits.get_limits` when the dataset is built (kept with it,
            so DataLoader workers use the same ones however they are started).
    """

    def __init__(
        self,
        records: Sequence[VideoRecord],
        vocab: Vocabulary,
        transform: VideoTransform | TrainTransformConfig | EvalTransformConfig
        | AlbumentationsVideoTransform | AlbumentationsConfig,
        *,
        temporal: TemporalConfig | None = None,
        keypoints: KeypointSet | Mapping[str, np.ndarray] | str | os.PathLike | None = None,
        heatmaps: HeatmapConfig | None = None,
        on_error: str = "raise",
        seed: int | None = None,
        decode_threads: int | None = None,
        preload: bool = False,
        limits: DataLimits | None = None,
    ):
        if on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {on_error!r}")
        self.records = list(records)
        self.vocab = vocab
        if isinstance(transform, AlbumentationsConfig):
            transform = AlbumentationsVideoTransform(transform)
        elif not isinstance(transform, (VideoTransform, AlbumentationsVideoTransform)):
            transform = VideoTransform(transform)
        self.transform = transform
        self.train = self.transform.train
        self.temporal = temporal if temporal is not None else TemporalConfig()
        self.on_error = on_error
        self.seed = seed
        self.decode_threads = decode_threads
        self.limits = limits if limits is not None else get_limits()
        self.epoch = 0
        self.num_skipped = 0
        self.labels = self._encode_labels()
        if isinstance(keypoints, (str, os.PathLike)):
            keypoints = load_keypoint_file(keypoints, frame_size=None)
        elif keypoints is not None and not isinstance(keypoints, KeypointSet):
            keypoints = KeypointSet(keypoints_from_mapping(keypoints), "<keypoints mapping>")
        self.keypoints: KeypointSet | None = keypoints
        self.heatmap_config = (
            heatmaps if heatmaps is not None else (HeatmapConfig() if keypoints is not None else None)
        )
        if self.keypoints is not None:
            if self.heatmap_config.normalized_coords and self.keypoints.frame_size is not None:
                raise ValueError(
                    f"{self.keypoints.source}: keypoints of {self.keypoints.frame_size} frames cannot also "
                    "be normalised (HeatmapConfig.normalized_coords)"
                )
            self.keypoints.check(self.records)
        self._frames: list[np.ndarray | None] | None = None
        if preload:
            self._frames = [self._preload(record) for record in self.records]

    def _preload(self, record: VideoRecord) -> np.ndarray | None:
        try:
            return decode_frames(
                record.frame_paths(self.limits), num_threads=self.decode_threads, limits=self.limits
            )
        except FrameReadError as exc:
            if self.on_error == "raise":
                raise
            self.num_skipped += 1
            warnings.warn(f"skipping video {record.video_id!r}: {exc}", RuntimeWarning, stacklevel=3)
            return None

    def _encode_labels(self) -> list[torch.Tensor]:
        if self.vocab.unk_policy == "error":
            unknown = [g for r in self.records for g in r.glosses if g not in self.vocab]
            if unknown:
                videos = sum(1 for r in self.records if any(g not in self.vocab for g in r.glosses))
                first = next(r for r in self.records if any(g not in self.vocab for g in r.glosses))
                raise UnknownGlossError(
                    unknown=unknown, context=f"{videos} video(s), first {first.source or first.video_id}"
                )
        return [
            torch.tensor(self.vocab.encode(r.glosses, context=r.source), dtype=torch.int64)
            for r in self.records
        ]

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation stream of ``epoch`` (only matters with an explicit ``seed``)."""
        self.epoch = int(epoch)

    def lengths(self) -> list[int]:
        """Frames per item as eval sampling returns them (the training mean): for bucketing."""
        out = []
        for record in self.records:
            n = record.num_frames if record.num_frames is not None else _count_or_zero(record, self.limits)
            out.append(eval_length(n, self.temporal) if n > 0 else 0)
        return out

    def _rng(self, index: int) -> np.random.Generator:
        if self.seed is None:
            return random_generator()
        return np.random.default_rng([self.seed, self.epoch, index])

    def __getitem__(self, index: int) -> VideoSample | None:
        record = self.records[index]
        if self._frames is not None and self._frames[index] is None:
            return None  # failed to preload under on_error="skip": already warned and counted
        try:
            return self._load(index, record)
        except (FrameReadError, DataFormatError) as exc:
            if self.on_error == "raise":
                raise
            self.num_skipped += 1
            warnings.warn(
                f"skipping video {record.video_id!r} ({self.num_skipped} skipped so far "
                f"in this process): {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
            return None

    def _load(self, index: int, record: VideoRecord) -> VideoSample:
        rng = self._rng(index)
        cached = self._frames[index] if self._frames is not None else None
        paths = record.frame_paths(self.limits) if cached is None else range(len(cached))
        indices = sample_frame_indices(len(paths), self.temporal, train=self.train, rng=rng)
        if cached is not None:
            video = cached[indices]
        else:
            video = decode_frames(
                [paths[i] for i in indices], num_threads=self.decode_threads, limits=self.limits
            )
        keypoints = None
        if self.keypoints is not None:  # (T', 121, 3) of the sampled frames, in the loaded frames' pixels
            keypoints = self.keypoints.frames(record, indices, len(paths), video.shape[1:3])
            if self.heatmap_config.normalized_coords:
                keypoints = keypoints * np.array([video.shape[2], video.shape[1], 1], dtype=np.float32)
        out = self.transform(video, rng=rng, keypoints=None if keypoints is None else keypoints[..., :2])
        heatmaps = None
        if keypoints is not None:
            heatmaps = torch.from_numpy(self._render(out.keypoints, keypoints[..., 2]))
        return VideoSample(
            video_id=record.video_id,
            signer=record.signer,
            frames=out.frames,
            label=self.labels[index],
            glosses=list(record.glosses),
            heatmaps=heatmaps,
        )

    def _render(self, points: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Output-pixel points -> heatmap pixels (pixel-centre convention) -> Gaussians."""
        config = self.heatmap_config
        out_h, out_w = self.transform.out_size
        scale = np.array([config.size[1] / out_w, config.size[0] / out_h], dtype=np.float32)
        mapped = (points + 0.5) * scale - 0.5
        return render_keypoint_heatmaps(mapped, scores, config)


def _count_or_zero(record: VideoRecord, limits: DataLimits) -> int:
    try:
        return len(record.frame_paths(limits))
    except FrameReadError:
        return 0


def check_frames(
    records: Sequence[VideoRecord], *, limits: DataLimits | None = None, headers: bool = False
) -> list[tuple[VideoRecord, str]]:
    """Records whose frame folder is missing, empty or too long (cheap: no decoding), with the reason.

    ``headers=True`` also reads each frame's image header (:func:`~slr_data.image_header.check_image_file`)
    and reports the first frame that is unreadable or larger than ``limits`` allow.
    """
    limits = limits if limits is not None else get_limits()
    bad = []
    for record in records:
        try:
            paths = record.frame_paths(limits)
            for path in paths if headers else ():
                check_image_file(path, limits=limits)
        except FrameReadError as exc:
            bad.append((record, str(exc)))
            continue
        if record.num_frames is not None and len(paths) != record.num_frames:
            bad.append(
                (
                    record,
                    f"{Path(record.frame_dir)}: {len(paths)} frames on disk, "
                    f"metadata says {record.num_frames}",
                )
            )
    return bad
