"""Per-video keypoints of a corpus: TwoStream-SLR / Mamba_SLR HRNet pickles, looked up per record.

TwoStream-SLR publishes, and Mamba_SLR reads, PHOENIX-2014 keypoints as one pickle, e.g.
``phoenix-2014-keypoints_hrnet-filtered_SMOOTH_v2-256x256_INTERPOLATED.pkl``::

    {"fullFrame-210x260px/<split>/<id>/1/<stem>": {"keypoints": (T, 121, 3)}, ...}

with ``<split>/<id>/1`` the ``folder`` of the ``*_info.npy`` entry without its ``/*.png`` and
``<stem>`` the ``fileid`` before ``_default-`` (the frame files' name stem); ``x, y`` are pixels
of the 256x256 frames (whichever tree is loaded), then the HRNet score. Row ``t`` belongs to
frame ``t`` of the video.

:class:`KeypointSet` holds such a file and gives each :class:`~slr_data.corpus.VideoRecord`
its rows for the frames the temporal sampler picked, in the loaded frames' pixels:
``x' = (x + 0.5) * W / 256 - 0.5`` and ``y' = (y + 0.5) * H / 256 - 0.5`` (pixel centres, the
convention of ``cv2.resize`` and of the augmentation) for frames of ``W x H`` pixels.

Lengths: a video's keypoints must have exactly one row per frame. Mamba_SLR slices frames and
keypoints with the same ``[offset::interval]`` and fails in training (``torch.cat``) when they
differ; here the file is not resampled either, and a different count is an error naming the
file, the entry and the video (up front against the metadata's frame count, and again against
the frames on disk when a video is loaded).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slr_data.corpus.records import VideoRecord
from slr_data.errors import DataFormatError
from slr_data.heatmaps import keypoints_from_mapping
from slr_data.safe_pickle import load_pickle

__all__ = [
    "TWOSTREAM_FRAME_SIZE",
    "TWOSTREAM_FEATURES_DIR",
    "KeypointSet",
    "load_keypoint_file",
    "twostream_key",
    "record_keypoint_keys",
]

#: ``(width, height)`` of the frames TwoStream-SLR's keypoints were detected on.
TWOSTREAM_FRAME_SIZE = (256, 256)
#: the frame tree named in TwoStream-SLR keys (whatever tree the frames are loaded from).
TWOSTREAM_FEATURES_DIR = "fullFrame-210x260px"


def twostream_key(folder: str, video_id: str) -> str:
    """TwoStream-SLR's key of a PHOENIX-2014 video.

    Args:
        folder: the ``*_info.npy`` ``folder`` (``"train/<id>/1/*.png"``; the glob is optional).
        video_id: the ``fileid`` (``"<stem>_default-0"``).

    Returns:
        ``"fullFrame-210x260px/train/<id>/1/<stem>"``.
    """
    folder = folder.replace("\\", "/").split("/*.")[0].strip("/")
    return f"{TWOSTREAM_FEATURES_DIR}/{folder}/{video_id.split('_default-')[0]}"


def record_keypoint_keys(record: VideoRecord) -> tuple[str, ...]:
    """Keys a keypoint file may use for ``record``, in lookup order: the video id,
    TwoStream-SLR's key (its folder taken as the last three parts of the frame folder,
    ``<split>/<id>/1``), and ``<split>/<video id>``."""
    parts = Path(record.frame_dir).parts
    folder = "/".join(parts[-3:]) if len(parts) >= 3 else f"{record.split}/{record.video_id}"
    keys = (record.video_id, twostream_key(folder, record.video_id), f"{record.split}/{record.video_id}")
    return tuple(dict.fromkeys(keys))


@dataclass(frozen=True, eq=False)
class KeypointSet:
    """Keypoints of many videos and the frame size their coordinates refer to.

    Attributes:
        arrays: ``{key: (T, 121, 3) float32}`` (``x, y, score``), keys as in the file.
        source: the file (or a description), named in every error.
        frame_size: ``(width, height)`` of the frames the coordinates are pixels of
            (:data:`TWOSTREAM_FRAME_SIZE` for TwoStream-SLR files); ``None``: the pixels of the
            frames as loaded.
    """

    arrays: Mapping[str, np.ndarray]
    source: str = "<keypoints>"
    frame_size: tuple[int, int] | None = None

    def __post_init__(self):
        if self.frame_size is not None:
            size = tuple(int(v) for v in self.frame_size)
            if len(size) != 2 or min(size) < 1:
                raise ValueError(f"frame_size must be a positive (width, height), got {self.frame_size!r}")
            object.__setattr__(self, "frame_size", size)
        object.__setattr__(self, "source", os.fspath(self.source))

    def __len__(self) -> int:
        return len(self.arrays)

    def key_of(self, record: VideoRecord) -> str | None:
        """The key under which ``record`` is stored, or ``None``."""
        return next((k for k in record_keypoint_keys(record) if k in self.arrays), None)

    def _not_found(self, records: list[VideoRecord], total: int) -> DataFormatError:
        first = records[0]
        tried = ", ".join(repr(k) for k in record_keypoint_keys(first))
        sample = next(iter(self.arrays), None)
        return DataFormatError(
            f"no keypoints for video {first.video_id!r} ({first.source or first.frame_dir}; "
            f"looked up {tried}); "
            f"{len(records)} of {total} videos are missing; the file's keys look like {sample!r}: "
            "is it the keypoint file of this corpus?",
            self.source,
        )

    def check(self, records: Iterable[VideoRecord]) -> None:
        """Every record has keypoints, one row per frame where the metadata counts them.

        Raises:
            DataFormatError: naming this file, the first video concerned and how many are.
        """
        records = list(records)
        missing = [r for r in records if self.key_of(r) is None]
        if missing:
            raise self._not_found(missing, len(records))
        wrong = [
            (r, key)
            for r in records
            for key in [self.key_of(r)]
            if r.num_frames is not None and len(self.arrays[key]) != r.num_frames
        ]
        if wrong:
            record, key = wrong[0]
            raise DataFormatError(
                f"{len(self.arrays[key])} keypoint rows for the {record.num_frames} frames of video "
                f"{record.video_id!r} ({record.source or record.frame_dir}); {len(wrong)} of {len(records)} "
                "videos differ: one row per frame is needed (the file is not resampled)",
                self.source,
                key=key,
            )

    def frames(
        self, record: VideoRecord, indices: np.ndarray, num_frames: int, frame_hw: tuple[int, int]
    ) -> np.ndarray:
        """Keypoints of the frames ``indices`` of ``record``, in the loaded frames' pixels.

        Args:
            indices: ``(T',)`` frame indices chosen by the temporal sampler (may repeat).
            num_frames: frames of the video as loaded (the keypoint rows must match).
            frame_hw: ``(H, W)`` of the loaded frames.

        Returns:
            ``(T', 121, 3)`` float32 ``x, y, score``; row ``j`` is frame ``indices[j]``.

        Raises:
            DataFormatError: no entry for the video, or a row count other than ``num_frames``.
        """
        key = self.key_of(record)
        if key is None:
            raise self._not_found([record], 1)
        rows = self.arrays[key]
        if len(rows) != num_frames:
            raise DataFormatError(
                f"{len(rows)} keypoint rows for the {num_frames} frames of video {record.video_id!r} in "
                f"{record.frame_dir}: one row per frame is needed (the file is not resampled)",
                self.source,
                key=key,
            )
        out = rows[np.asarray(indices, dtype=np.int64)].copy()
        if self.frame_size is not None:
            height, width = frame_hw
            scale = np.array([width / self.frame_size[0], height / self.frame_size[1]], dtype=np.float32)
            out[..., :2] = (out[..., :2] + 0.5) * scale - 0.5
        return out


def load_keypoint_file(
    path: str | os.PathLike, *, frame_size: tuple[int, int] | None = TWOSTREAM_FRAME_SIZE
) -> KeypointSet:
    """Read a keypoint pickle (or ``.npy``) with the restricted unpickler.

    Args:
        path: ``{key: (T, 121|133, 2|3) array}`` or ``{key: {"keypoints": array, ...}}``.
        frame_size: ``(width, height)`` the coordinates refer to; the default is TwoStream-SLR's
            256x256; ``None`` when they are pixels of the frames as loaded.

    Raises:
        FileNotFoundError: no such file. UnsafePickleError: the pickle names anything but plain
        data (nothing is executed). DataFormatError: other content or shapes (names the entry).
    """
    raw = load_pickle(path)
    return KeypointSet(keypoints_from_mapping(raw, path, consume=True), os.fspath(path), frame_size)
