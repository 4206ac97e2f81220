"""Image dimensions from a file's header, read before anything is decoded.

A PNG of 16000x16000 black pixels is 4 MB on disk and 768 MB decoded; ``cv2.imdecode`` allocates
whatever the header says. :func:`check_image_file` reads only the header (a few bytes; for JPEG
the segment headers up to the frame header) and refuses an image larger than
``DataLimits.max_frame_width`` x ``max_frame_height`` (default 4096x4096), or a file larger than
such an image can be, before the file is read.

Formats whose dimensions are read: PNG (``IHDR``), JPEG (the first ``SOFn`` segment), BMP,
WebP (``VP8``/``VP8L``/``VP8X``), TIFF (first IFD) and PNM (``P1``-``P6``). Any other content
is refused as an unsupported frame format, whatever its suffix (OpenCV picks the decoder from
the bytes, not from the name).
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from typing import BinaryIO

from slr_data.errors import FrameReadError
from slr_data.limits import DataLimits, get_limits

__all__ = [
    "IMAGE_FORMATS",
    "ImageHeader",
    "read_image_header",
    "check_image_header",
    "check_image_file",
    "check_frame_size",
    "open_frame_file",
]

#: formats whose header :func:`read_image_header` reads.
IMAGE_FORMATS = ("png", "jpeg", "bmp", "webp", "tiff", "pnm")

_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}
_MAX_JPEG_SEGMENTS = 4096


@dataclass(frozen=True)
class ImageHeader:
    """What an image file's header declares.

    Attributes:
        format: one of :data:`IMAGE_FORMATS`.
        width, height: pixels.
    """

    format: str
    width: int
    height: int


class _BadHeader(Exception):
    pass


def _read(handle: BinaryIO, offset: int, count: int) -> bytes:
    handle.seek(offset)
    data = handle.read(count)
    if len(data) < count:
        raise _BadHeader("the header is truncated")
    return data


def _png(handle) -> tuple[int, int]:
    data = _read(handle, 8, 16)
    if data[4:8] != b"IHDR":
        raise _BadHeader("PNG without an IHDR chunk first")
    return struct.unpack(">II", data[8:16])


def _jpeg(handle, size: int) -> tuple[int, int]:
    offset = 2
    for _ in range(_MAX_JPEG_SEGMENTS):
        marker = _read(handle, offset, 2)
        if marker[0] != 0xFF:
            raise _BadHeader(f"JPEG segment without a marker at byte {offset}")
        if marker[1] == 0xFF:  # fill byte
            offset += 1
            continue
        if marker[1] in _JPEG_STANDALONE:
            offset += 2
            continue
        if marker[1] in (0xD9, 0xDA):
            raise _BadHeader("JPEG without a frame header (SOF) before its image data")
        (length,) = struct.unpack(">H", _read(handle, offset + 2, 2))
        if length < 2 or offset + 2 + length > size:
            raise _BadHeader(f"JPEG segment of invalid length {length} at byte {offset}")
        if marker[1] in _JPEG_SOF:
            height, width = struct.unpack(">HH", _read(handle, offset + 5, 4))
            if height == 0:
                raise _BadHeader("JPEG frame height 0 (defined later by DNL) is not supported")
            return width, height
        offset += 2 + length
    raise _BadHeader(f"no JPEG frame header in the first {_MAX_JPEG_SEGMENTS} segments")


def _bmp(handle) -> tuple[int, int]:
    (dib,) = struct.unpack("<I", _read(handle, 14, 4))
    if dib == 12:
        return struct.unpack("<HH", _read(handle, 18, 4))
    width, height = struct.unpack("<ii", _read(handle, 18, 8))
    return abs(width), abs(height)


def _webp(handle) -> tuple[int, int]:
    chunk = _read(handle, 12, 4)
    if chunk == b"VP8X":
        data = _read(handle, 24, 6)
        return 1 + int.from_bytes(data[0:3], "little"), 1 + int.from_bytes(data[3:6], "little")
    if chunk == b"VP8L":
        data = _read(handle, 20, 5)
        if data[0] != 0x2F:
            raise _BadHeader("WebP lossless without its signature")
        bits = int.from_bytes(data[1:5], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8 ":
        data = _read(handle, 20, 10)
        if data[3:6] != b"\x9d\x01\x2a":
            raise _BadHeader("WebP lossy without its start code")
        width, height = struct.unpack("<HH", data[6:10])
        return width & 0x3FFF, height & 0x3FFF
    raise _BadHeader(f"WebP with an unknown first chunk {chunk!r}")


def _tiff(handle, order: str) -> tuple[int, int]:
    (ifd,) = struct.unpack(order + "I", _read(handle, 4, 4))
    (count,) = struct.unpack(order + "H", _read(handle, ifd, 2))
    found = {}
    for i in range(min(count, 4096)):
        tag, kind, _n, value = struct.unpack(order + "HHI4s", _read(handle, ifd + 2 + 12 * i, 12))
        if tag in (256, 257):
            if kind == 3:
                found[tag] = struct.unpack(order + "H", value[:2])[0]
            elif kind == 4:
                found[tag] = struct.unpack(order + "I", value)[0]
            else:
                raise _BadHeader(f"TIFF size tag of type {kind}")
        if len(found) == 2:
            return found[256], found[257]
    raise _BadHeader("TIFF without width and height in its first directory")


def _pnm(handle) -> tuple[int, int]:
    text = _read(handle, 0, 2)
    data = text + handle.read(1024)
    fields: list[bytes] = []
    for line in data[2:].split(b"\n"):
        fields += line.split(b"#", 1)[0].split()
        if len(fields) >= 2:
            break
    try:
        return int(fields[0]), int(fields[1])
    except (IndexError, ValueError):
        raise _BadHeader("PNM without width and height") from None


def read_image_header(handle: BinaryIO, source: str | os.PathLike = "<image>") -> ImageHeader:
    """The format and size an image file declares; ``handle`` is an open binary file (seekable).

    Raises:
        FrameReadError: unknown format or malformed header (names ``source``).
    """
    try:
        size = handle.seek(0, os.SEEK_END)
        start = _read(handle, 0, min(size, 12))
        if start.startswith(b"\x89PNG\r\n\x1a\n"):
            return ImageHeader("png", *_png(handle))
        if start.startswith(b"\xff\xd8"):
            return ImageHeader("jpeg", *_jpeg(handle, size))
        if start.startswith(b"BM"):
            return ImageHeader("bmp", *_bmp(handle))
        if start.startswith(b"RIFF") and start[8:12] == b"WEBP":
            return ImageHeader("webp", *_webp(handle))
        if start[:4] in (b"II*\x00", b"MM\x00*"):
            return ImageHeader("tiff", *_tiff(handle, "<" if start[0:1] == b"I" else ">"))
        if start[:1] == b"P" and start[1:2] in b"123456" and start[2:3].isspace():
            return ImageHeader("pnm", *_pnm(handle))
    except (_BadHeader, struct.error) as exc:
        raise FrameReadError(f"corrupt image header ({exc})", source) from None
    except OSError as exc:
        raise FrameReadError(f"cannot read frame file ({exc.strerror or exc})", source) from None
    if size == 0:
        raise FrameReadError("empty frame file", source)
    raise FrameReadError(
        "unsupported or corrupt image (frames must be PNG, JPEG, BMP, WebP, TIFF or PNM)", source
    )


def check_frame_size(
    source: str | os.PathLike, width: int, height: int, limits: DataLimits, what="image"
) -> None:
    """Refuse ``width x height`` beyond ``limits`` (or empty), naming ``source``."""
    if width < 1 or height < 1:
        raise FrameReadError(f"{what} of {width}x{height} pixels", source)
    if width > limits.max_frame_width or height > limits.max_frame_height:
        raise FrameReadError(
            f"{what} of {width}x{height} pixels is larger than the maximum "
            f"{limits.max_frame_width}x{limits.max_frame_height} (SLR_DATA_MAX_FRAME_WIDTH / "
            "SLR_DATA_MAX_FRAME_HEIGHT); refused before decoding",
            source,
        )


def check_image_file(path: str | os.PathLike, *, limits: DataLimits | None = None) -> ImageHeader:
    """Check an image file can be decoded within ``limits`` without decoding it.

    It must be a regular file no larger than ``limits.frame_file_max_bytes()``, in one of
    :data:`IMAGE_FORMATS`, and declare at most ``max_frame_width x max_frame_height`` pixels.

    Returns:
        its :class:`ImageHeader`.

    Raises:
        FrameReadError: naming the file and what is wrong.
    """
    limits = limits if limits is not None else get_limits()
    with open_frame_file(path, limits) as handle:
        return check_image_header(handle, path, limits)


def open_frame_file(path: str | os.PathLike, limits: DataLimits) -> BinaryIO:
    """``open(path, "rb")`` of a regular file within the frame size limit (FrameReadError otherwise)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - returned to a with statement
    except FileNotFoundError:
        raise FrameReadError("frame file is missing", path) from None
    except IsADirectoryError:
        raise FrameReadError("is a folder, expected an image file", path) from None
    except OSError as exc:
        raise FrameReadError(f"cannot read frame file ({exc.strerror or exc})", path) from None
    info = os.fstat(handle.fileno())
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "is not a regular file (a device, FIFO or socket?)"
    elif info.st_size > limits.frame_file_max_bytes():
        problem = (
            f"frame file of {info.st_size} bytes is larger than any image of at most "
            f"{limits.max_frame_width}x{limits.max_frame_height} pixels can be"
        )
    if problem is not None:
        handle.close()
        raise FrameReadError(problem, path)
    return handle


def check_image_header(handle: BinaryIO, path, limits: DataLimits) -> ImageHeader:
    """:func:`read_image_header` of the open ``handle``, refused beyond ``limits`` (FrameReadError)."""
    header = read_image_header(handle, path)
    check_frame_size(path, header.width, header.height, limits, what=f"{header.format.upper()} image")
    return header
