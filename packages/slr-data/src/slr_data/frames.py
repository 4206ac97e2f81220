"""Reading video frames: image folders (PNG/JPEG, naturally sorted) and video files.

Frames are decoded with ``cv2.imdecode`` in a thread pool (OpenCV releases the GIL while
decoding) straight into one preallocated ``uint8`` array of shape ``(T, H, W, 3)``, RGB order.
No PIL round trips, no float conversion: that happens once, at the end of the transform.
"""

from __future__ import annotations

import fnmatch
import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from slr_data.errors import FrameReadError

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


def list_frame_files(folder: str | os.PathLike, pattern: str | None = None) -> list[Path]:
    """Image files in ``folder`` matching ``pattern`` (default: any image suffix), naturally sorted.

    Raises:
        FrameReadError: the folder does not exist or holds no matching image.
    """
    folder = Path(folder)
    try:
        with os.scandir(folder) as entries:
            names = [entry.name for entry in entries if entry.is_file()]
    except FileNotFoundError:
        raise FrameReadError(folder, "frame folder does not exist") from None
    except NotADirectoryError:
        raise FrameReadError(folder, "expected a folder of frame images, found a file") from None
    if pattern is None:
        names = [n for n in names if n.lower().endswith(IMAGE_SUFFIXES)]
    else:
        names = fnmatch.filter(names, pattern)
    if not names:
        what = pattern or "/".join(IMAGE_SUFFIXES)
        raise FrameReadError(folder, f"no frame images ({what}) in folder")
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


def _decode_raw(path: Path) -> np.ndarray:
    """The image as stored (``IMREAD_UNCHANGED`` skips OpenCV's own colour pass); 8-bit."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise FrameReadError(path, "frame file is missing") from None
    except OSError as exc:
        raise FrameReadError(path, f"cannot read frame file ({exc.strerror or exc})") from None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise FrameReadError(path, "corrupt or unsupported image (cv2.imdecode failed)")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise FrameReadError(path, f"unsupported pixel type {image.dtype}")
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels not in _TO_RGB:
        raise FrameReadError(path, f"unsupported number of channels ({channels})")
    return image


def _decode_into(out: np.ndarray, index: int, path: Path, image: np.ndarray | None = None) -> None:
    """Decode ``path`` (unless ``image`` is given) and write it as RGB into ``out[index]``."""
    image = _decode_raw(path) if image is None else image
    if image.shape[:2] != out.shape[1:3]:
        raise FrameReadError(
            path,
            f"frame size {image.shape[1]}x{image.shape[0]} differs from the video's first "
            f"frame ({out.shape[2]}x{out.shape[1]})",
        )
    channels = 1 if image.ndim == 2 else image.shape[2]
    cv2.cvtColor(image, _TO_RGB[channels], dst=out[index])


def decode_frames(paths: Sequence[str | os.PathLike], *, num_threads: int | None = None) -> np.ndarray:
    """Decode image files into one ``uint8`` array ``(T, H, W, 3)``, RGB.

    Args:
        paths: the frames, in order (repeat a path to repeat a frame).
        num_threads: decoding threads; ``None`` = :func:`default_decode_threads`, ``1`` decodes
            in the calling thread.

    Raises:
        FrameReadError: a frame is missing, corrupt, or differs in size (names the file).
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("decode_frames needs at least one frame path")
    first = _decode_raw(paths[0])
    out = np.empty((len(paths), *first.shape[:2], 3), dtype=np.uint8)
    _decode_into(out, 0, paths[0], first)
    cache = {paths[0]: 0}
    jobs = []
    for i, path in enumerate(paths[1:], start=1):
        if path in cache:  # repeated frame (temporal up-sampling): decode once, copy later
            continue
        cache[path] = i
        jobs.append((i, path))
    threads = default_decode_threads() if num_threads is None else max(1, int(num_threads))
    if threads == 1 or len(jobs) < 4:
        for i, path in jobs:
            _decode_into(out, i, path)
    else:
        pool = _executor(threads)
        futures = [pool.submit(_decode_into, out, i, path) for i, path in jobs]
        errors = [f.exception() for f in futures]
        for error in errors:
            if error is not None:
                raise error
    for i, path in enumerate(paths):
        source = cache[path]
        if source != i:
            out[i] = out[source]
    return out


def read_video(path: str | os.PathLike, *, num_threads: int | None = None) -> np.ndarray:
    """Read a video as ``uint8`` ``(T, H, W, 3)`` RGB.

    ``path`` is either a folder of frame images (PNG/JPEG/BMP, natural sort order) or a video
    file that OpenCV can open (mp4, avi, ...).

    Raises:
        FrameReadError: the path does not exist, cannot be decoded, or holds no frames.
    """
    path = Path(path)
    if path.is_dir():
        return decode_frames(list_frame_files(path), num_threads=num_threads)
    if not path.exists():
        raise FrameReadError(path, "no such video file or frame folder")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return decode_frames([path], num_threads=1)
    return _read_video_file(path)


def _read_video_file(path: Path) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise FrameReadError(path, "OpenCV cannot open this video file (unsupported or corrupt)")
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if frames and frame.shape != frames[0].shape:
                raise FrameReadError(
                    path, f"frame {len(frames)} changes size to {frame.shape[1]}x{frame.shape[0]}"
                )
            frames.append(frame)
    finally:
        capture.release()
    if not frames:
        raise FrameReadError(path, "video file holds no decodable frames")
    video = np.stack(frames)
    return np.ascontiguousarray(video[..., ::-1])
