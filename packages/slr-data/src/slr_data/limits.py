"""Resource limits on what slr-data reads: pickles, ``.npy`` headers, frames, videos and text files.

A careless or hostile input (a 300-byte pickle that builds an 8 GiB ``bytearray``, an ``.npy``
header declaring ``(10**13,)`` elements, a 16000x16000 PNG, a folder of a million frames, a
corpus CSV that is ``/dev/zero``) is refused with an error naming the file before the memory is
allocated. The limits are :class:`DataLimits` fields; every reader takes them from
:func:`get_limits` unless given explicitly:

=========================  ==============================  ==================================
field                      environment variable            default
=========================  ==============================  ==================================
``max_pickle_bytes``       ``SLR_DATA_MAX_PICKLE_BYTES``    ``None``: the file's size + 1 MiB
``max_pickle_items``       ``SLR_DATA_MAX_PICKLE_ITEMS``    10 000 000 container elements
``max_pickle_depth``       ``SLR_DATA_MAX_PICKLE_DEPTH``    100 levels of nesting
``max_frame_width``        ``SLR_DATA_MAX_FRAME_WIDTH``     4096 pixels
``max_frame_height``       ``SLR_DATA_MAX_FRAME_HEIGHT``    4096 pixels
``max_video_frames``       ``SLR_DATA_MAX_VIDEO_FRAMES``    10 000 frames
``max_video_bytes``        ``SLR_DATA_MAX_VIDEO_BYTES``     4 GiB of decoded ``uint8`` frames
``max_line_bytes``         ``SLR_DATA_MAX_LINE_BYTES``      1 MiB per line of a text file
``max_lines``              ``SLR_DATA_MAX_LINES``           1 000 000 lines per text file
=========================  ==============================  ==================================

:func:`set_limits` sets them for the process (an application calls it once, from its
settings); otherwise the environment variables override the defaults (read at each call, so
DataLoader workers started with ``spawn`` see them too).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

__all__ = ["DataLimits", "LIMIT_ENV_VARS", "get_limits", "set_limits", "using_limits"]

GiB = 1 << 30
MiB = 1 << 20

#: ``DataLimits`` field -> environment variable that overrides its default.
LIMIT_ENV_VARS: Mapping[str, str] = {
    "max_pickle_bytes": "SLR_DATA_MAX_PICKLE_BYTES",
    "max_pickle_items": "SLR_DATA_MAX_PICKLE_ITEMS",
    "max_pickle_depth": "SLR_DATA_MAX_PICKLE_DEPTH",
    "max_frame_width": "SLR_DATA_MAX_FRAME_WIDTH",
    "max_frame_height": "SLR_DATA_MAX_FRAME_HEIGHT",
    "max_video_frames": "SLR_DATA_MAX_VIDEO_FRAMES",
    "max_video_bytes": "SLR_DATA_MAX_VIDEO_BYTES",
    "max_line_bytes": "SLR_DATA_MAX_LINE_BYTES",
    "max_lines": "SLR_DATA_MAX_LINES",
}


@dataclass(frozen=True)
class DataLimits:
    """What slr-data's readers accept before refusing an input (all sizes in bytes).

    Attributes:
        max_pickle_bytes: bytes a pickle may make its allowed constructors allocate beyond the
            data stored in it (``bytearray(n)``, ``bytes(n)``, numpy array reconstruction, copies
            by ``str``/``bytes`` ...). ``None``: the size of the file plus 1 MiB (a legitimate
            pickle stores its data, so it never needs much more than it holds).
        max_pickle_items: elements in any container the pickle builds, counting a container
            each time it is referenced (so shared references cannot multiply the size unseen);
            also bounds the elements constructors create from one argument.
        max_pickle_depth: nesting depth of containers (deeper tuples crash ``hash``).
        max_frame_width, max_frame_height: an image frame (or a video file's frames) larger than
            this is refused from its header, before decoding.
        max_video_frames: frames of one video (files in a frame folder, frames of a video file,
            ``num_frames`` of a metadata entry).
        max_video_bytes: decoded size ``T * H * W * 3`` of one video.
        max_line_bytes, max_lines: per text file (corpus CSVs, vocabulary JSON).
    """

    max_pickle_bytes: int | None = None
    max_pickle_items: int = 10_000_000
    max_pickle_depth: int = 100
    max_frame_width: int = 4096
    max_frame_height: int = 4096
    max_video_frames: int = 10_000
    max_video_bytes: int = 4 * GiB
    max_line_bytes: int = 1 * MiB
    max_lines: int = 1_000_000

    def __post_init__(self):
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None and field.name == "max_pickle_bytes":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"DataLimits.{field.name} must be a positive integer, got {value!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, base: DataLimits | None = None) -> DataLimits:
        """``base`` (default: the defaults) with the ``SLR_DATA_MAX_*`` variables applied.

        Raises:
            ValueError: a variable is not a positive integer (names the variable).
        """
        environ = os.environ if environ is None else environ
        changes = {}
        for name, variable in LIMIT_ENV_VARS.items():
            text = environ.get(variable)
            if text is None or not text.strip():
                continue
            try:
                value = int(text.strip().replace("_", ""))
            except ValueError:
                value = 0
            if value < 1:
                raise ValueError(f"environment variable {variable}={text!r}: expected a positive integer")
            changes[name] = value
        base = cls() if base is None else base
        return dataclasses.replace(base, **changes) if changes else base

    def frame_file_max_bytes(self) -> int:
        """The largest image file accepted as a frame: an uncompressed 4-channel image of the
        maximum size, plus 1 MiB of headers (a larger file cannot be a legitimate frame)."""
        return 4 * self.max_frame_width * self.max_frame_height + self.max_frame_height + MiB


_process_limits: DataLimits | None = None


def get_limits() -> DataLimits:
    """The limits in force: those of :func:`set_limits`, else the defaults with the environment."""
    if _process_limits is not None:
        return _process_limits
    return DataLimits.from_env()


def set_limits(limits: DataLimits | None) -> DataLimits | None:
    """Set the process-wide limits (``None``: back to defaults + environment); returns the old ones."""
    global _process_limits
    if limits is not None and not isinstance(limits, DataLimits):
        raise TypeError(f"set_limits expects a DataLimits or None, got {type(limits).__name__}")
    previous, _process_limits = _process_limits, limits
    return previous


@contextlib.contextmanager
def using_limits(limits: DataLimits | None = None, **changes) -> Iterator[DataLimits]:
    """``with using_limits(max_frame_width=8192): ...``: the current limits changed for the block."""
    base = limits if limits is not None else get_limits()
    current = dataclasses.replace(base, **changes) if changes else base
    previous = set_limits(current)
    try:
        yield current
    finally:
        set_limits(previous)
