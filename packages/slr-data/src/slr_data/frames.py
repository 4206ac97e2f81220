"""Reading video frames: image folders (PNG/JPEG, naturally sorted) and video files.

Frames are decoded with ``cv2.imdecode`` in a thread pool (OpenCV releases the GIL while
decoding) straight into one preallocated ``uint8`` array of shape ``(T, H, W, 3)``, RGB order.
No PIL round trips, no float conversion: that happens once, at the end of the transform.

Limits (:class:`~slr_data.limits.DataLimits`, checked before the memory is allocated, each
refusal a :class:`~slr_data.errors.FrameReadError` naming the file): every image's header is
read first and its size checked (:func:`~slr_data.image_header.check_image_file`: at most
``max_frame_width x max_frame_height``); a frame folder may hold at most ``max_video_frames``
frames; a video file's width, height and frame count are read from its container before
decoding and checked again while decoding; one decoded video may take at most
``max_video_bytes``.
"""

from __future__ import annotations

import fnmatch
import io
import os
import re
import stat
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from slr_data.errors import FrameReadError
from slr_data.image_header import check_frame_size, check_image_header, open_frame_file
from slr_data.limits import DataLimits, get_limits

__all__ = [
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "natural_sort_key",
    "list_frame_files",
    "decode_frames",
    "read_video",
    "default_decode_threads",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".mpg", ".mpeg", ".m4v")

_DIGITS = re.compile(r"(\d+)")


def natural_sort_key(name: str) -> tuple:
    """Sort key that orders ``frame2.png`` before ``frame10.png``."""
    return tuple(int(part) if part.isdigit() else part for part in _DIGITS.split(name))


def list_frame_files(
    folder: str | os.PathLike, pattern: str | None = None, *, limits: DataLimits | None = None
) -> list[Path]:
    """Image files in ``folder`` matching ``pattern`` (default: any image suffix), naturally sorted.

    Raises:
        FrameReadError: the folder does not exist, holds no matching image, or more than
            ``limits.max_video_frames`` of them (counted while scanning).
    """
    folder = Path(folder)
    limit = (limits if limits is not None else get_limits()).max_video_frames
    names = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                matches = (
                    name.lower().endswith(IMAGE_SUFFIXES)
                    if pattern is None
                    else fnmatch.fnmatch(name, pattern)
                )
                if matches and entry.is_file():
                    names.append(name)
                    if len(names) > limit:
                        raise FrameReadError(
                            f"more than {limit} frame images in the folder: longer than the maximum video "
                            "(SLR_DATA_MAX_VIDEO_FRAMES)",
                            folder,
                        )
    except FileNotFoundError:
        raise FrameReadError("frame folder does not exist", folder) from None
    except NotADirectoryError:
        raise FrameReadError("expected a folder of frame images, found a file", folder) from None
    except PermissionError as exc:
        raise FrameReadError(f"cannot list frame folder ({exc.strerror})", folder) from None
    if not names:
        what = pattern or "/".join(IMAGE_SUFFIXES)
        raise FrameReadError(f"no frame images ({what}) in folder", folder)
    names.sort(key=natural_sort_key)
    return [folder / n for n in names]


def default_decode_threads() -> int:
    """Threads used to decode one video: ``min(4, cpu count)``."""
    return max(1, min(4, os.cpu_count() or 1))


_pool_lock = threading.Lock()
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_pid = os.getpid()


def _executor(num_threads: int) -> ThreadPoolExecutor:
    """A process-wide pool per thread count, recreated after ``fork`` (DataLoader workers)."""
    global _pools_pid
    with _pool_lock:
        if _pools_pid != os.getpid():  # threads do not survive fork: start afresh in the child
            _pools.clear()
            _pools_pid = os.getpid()
        pool = _pools.get(num_threads)
        if pool is None:
            pool = _pools[num_threads] = ThreadPoolExecutor(
                max_workers=num_threads, thread_name_prefix="slr-decode"
            )
        return pool


_TO_RGB = {1: cv2.COLOR_GRAY2RGB, 3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGRA2RGB}


def _decode_raw(path: Path, limits: DataLimits) -> np.ndarray:
    """The image as stored (``IMREAD_UNCHANGED`` skips OpenCV's own colour pass); 8-bit.

    The header is checked against ``limits`` before the file is read and decoded."""
    with open_frame_file(path, limits) as handle:  # a regular file no larger than limits allow
        try:
            raw = handle.read()
        except OSError as exc:
            raise FrameReadError(f"cannot read frame file ({exc.strerror or exc})", path) from None
    check_image_header(io.BytesIO(raw), path, limits)  # before decoding allocates the pixels
    data = np.frombuffer(raw, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise FrameReadError("corrupt or unsupported image (cv2.imdecode failed)", path)
    check_frame_size(path, image.shape[1], image.shape[0], limits, what="decoded image")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise FrameReadError(f"unsupported pixel type {image.dtype}", path)
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels not in _TO_RGB:
        raise FrameReadError(f"unsupported number of channels ({channels})", path)
    return image


def _decode_into(
    out: np.ndarray, index: int, path: Path, limits: DataLimits, image: np.ndarray | None = None
) -> None:
    """Decode ``path`` (unless ``image`` is given) and write it as RGB into ``out[index]``."""
    image = _decode_raw(path, limits) if image is None else image
    if image.shape[:2] != out.shape[1:3]:
        raise FrameReadError(
            f"frame size {image.shape[1]}x{image.shape[0]} differs from the video's first "
            f"frame ({out.shape[2]}x{out.shape[1]})",
            path,
        )
    channels = 1 if image.ndim == 2 else image.shape[2]
    cv2.cvtColor(image, _TO_RGB[channels], dst=out[index])


def decode_frames(
    paths: Sequence[str | os.PathLike],
    *,
    num_threads: int | None = None,
    limits: DataLimits | None = None,
) -> np.ndarray:
    """Decode image files into one ``uint8`` array ``(T, H, W, 3)``, RGB.

    Args:
        paths: the frames, in order (repeat a path to repeat a frame).
        num_threads: decoding threads; ``None`` = :func:`default_decode_threads`, ``1`` decodes
            in the calling thread.
        limits: frame size, frame count and decoded size bounds (default
            :func:`~slr_data.limits.get_limits`).

    Raises:
        FrameReadError: a frame is missing, corrupt, too large, or differs in size; more than
            ``max_video_frames`` distinct frames; or a result over ``max_video_bytes`` (names
            the file or the first frame).
    """
    limits = limits if limits is not None else get_limits()
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("decode_frames needs at least one frame path")
    cache = {paths[0]: 0}
    jobs = []
    for i, path in enumerate(paths[1:], start=1):
        if path in cache:  # repeated frame (temporal up-sampling): decode once, copy later
            continue
        cache[path] = i
        jobs.append((i, path))
    if len(cache) > limits.max_video_frames:
        raise FrameReadError(
            f"a video of {len(cache)} frames (from this one) is longer than the maximum "
            f"{limits.max_video_frames} (SLR_DATA_MAX_VIDEO_FRAMES)",
            paths[0],
        )
    first = _decode_raw(paths[0], limits)
    _check_video_bytes(paths[0], len(paths), first.shape[1], first.shape[0], limits)
    out = np.empty((len(paths), *first.shape[:2], 3), dtype=np.uint8)
    _decode_into(out, 0, paths[0], limits, first)
    threads = default_decode_threads() if num_threads is None else max(1, int(num_threads))
    if threads == 1 or len(jobs) < 4:
        for i, path in jobs:
            _decode_into(out, i, path, limits)
    else:
        pool = _executor(threads)
        futures = [pool.submit(_decode_into, out, i, path, limits) for i, path in jobs]
        errors = [f.exception() for f in futures]
        for error in errors:
            if error is not None:
                raise error
    for i, path in enumerate(paths):
        source = cache[path]
        if source != i:
            out[i] = out[source]
    return out


def _check_video_bytes(source, frames: int, width: int, height: int, limits: DataLimits) -> None:
    nbytes = frames * width * height * 3
    if nbytes > limits.max_video_bytes:
        raise FrameReadError(
            f"{frames} frames of {width}x{height} pixels need {nbytes} bytes decoded, more than the maximum "
            f"{limits.max_video_bytes} (SLR_DATA_MAX_VIDEO_BYTES); refused before decoding",
            source,
        )


def read_video(
    path: str | os.PathLike, *, num_threads: int | None = None, limits: DataLimits | None = None
) -> np.ndarray:
    """Read a video as ``uint8`` ``(T, H, W, 3)`` RGB.

    ``path`` is either a folder of frame images (PNG/JPEG/BMP, natural sort order), one image,
    or a video file that OpenCV can open (mp4, avi, ...).

    Raises:
        FrameReadError: the path does not exist, cannot be decoded, holds no frames, or exceeds
            ``limits`` (frame size, frame count, decoded bytes; checked from the headers first).
    """
    limits = limits if limits is not None else get_limits()
    path = Path(path)
    if path.is_dir():
        return decode_frames(list_frame_files(path, limits=limits), num_threads=num_threads, limits=limits)
    if not path.exists():
        raise FrameReadError("no such video file or frame folder", path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return decode_frames([path], num_threads=1, limits=limits)
    return _read_video_file(path, limits)


def _open_capture(path: Path) -> cv2.VideoCapture:
    """A capture of ``path`` through FFmpeg (not OpenCV's other backends, which read a name as an
    image-sequence pattern or a pipeline), when this OpenCV has it."""
    try:
        ffmpeg = cv2.videoio_registry.hasBackend(cv2.CAP_FFMPEG)
    except AttributeError:  # pragma: no cover - very old OpenCV
        ffmpeg = False
    return cv2.VideoCapture(str(path), cv2.CAP_FFMPEG) if ffmpeg else cv2.VideoCapture(str(path))


def _read_video_file(path: Path, limits: DataLimits) -> np.ndarray:
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise FrameReadError(f"cannot read video file ({exc.strerror or exc})", path) from None
    if not stat.S_ISREG(mode):
        raise FrameReadError("is not a regular file (a device, FIFO or socket?)", path)
    capture = _open_capture(path)
    try:
        if not capture.isOpened():
            raise FrameReadError("OpenCV cannot open this video file (unsupported or corrupt)", path)
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        declared = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if width > 0 and height > 0:  # what the container declares, before decoding a frame
            check_frame_size(path, width, height, limits, what="video frames")
            if declared > 0:
                _check_declared_length(path, declared, limits)
                _check_video_bytes(path, declared, width, height, limits)
        frames = _decode_capture(capture, path, limits)
    finally:
        capture.release()
    if not frames:
        raise FrameReadError("video file holds no decodable frames", path)
    video = np.stack(frames)
    return np.ascontiguousarray(video[..., ::-1])


def _check_declared_length(path: Path, frames: int, limits: DataLimits) -> None:
    if frames > limits.max_video_frames:
        raise FrameReadError(
            f"video file declares {frames} frames, more than the maximum {limits.max_video_frames} "
            "(SLR_DATA_MAX_VIDEO_FRAMES); refused before decoding",
            path,
        )


def _decode_capture(capture: cv2.VideoCapture, path: Path, limits: DataLimits) -> list[np.ndarray]:
    """Decode every frame, enforcing the limits again (containers may declare wrong counts)."""
    frames: list[np.ndarray] = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        if not frames:
            check_frame_size(path, frame.shape[1], frame.shape[0], limits, what="video frames")
        elif frame.shape != frames[0].shape:
            raise FrameReadError(
                f"frame {len(frames)} changes size to {frame.shape[1]}x{frame.shape[0]}", path
            )
        frames.append(frame)
        if len(frames) > limits.max_video_frames:
            raise FrameReadError(
                f"video file has more than {limits.max_video_frames} frames (SLR_DATA_MAX_VIDEO_FRAMES)", path
            )
        _check_video_bytes(path, len(frames), frame.shape[1], frame.shape[0], limits)
