"""Exceptions raised by slr_data.

Every error that concerns a file names that file (and the line or entry when there is one),
so that a bad row in a 7000-line corpus file can be found without a debugger.
"""

from __future__ import annotations

import os
import reprlib


class DataError(Exception):
    """Base class of every error raised by slr_data."""


class DataFormatError(DataError, ValueError):
    """A metadata file (CSV, STM, JSON, pickle, npy) is malformed.

    Attributes:
        path: the offending file.
        line: 1-based line number, or ``None`` when the problem is not tied to a line.
        entry: key of the offending entry (e.g. an ``*_info.npy`` index), or ``None``.
    """

    def __init__(self, path: str | os.PathLike, message: str, *, line: int | None = None, entry=None):
        self.path = os.fspath(path)
        self.line = line
        self.entry = entry
        where = self.path
        if line is not None:
            where += f", line {line}"
        if entry is not None:
            where += f", entry {entry!r}"
        super().__init__(f"{where}: {message}")


class UnsafePickleError(DataFormatError):
    """A pickle asked for a global that is not plain data; nothing was executed."""


class UnknownGlossError(DataError, ValueError):
    """A label contains glosses that the vocabulary does not know (policy ``"error"``)."""

    def __init__(self, unknown: list[str], context: str | None = None):
        self.unknown = sorted(set(unknown))
        shown = ", ".join(repr(g) for g in self.unknown[:20])
        more = f" (and {len(self.unknown) - 20} more)" if len(self.unknown) > 20 else ""
        where = f"{context}: " if context else ""
        super().__init__(
            f"{where}unknown gloss(es) {shown}{more}; build the vocabulary from this data, "
            f"or use unk_policy='unk' to map them to '<unk>'"
        )


class FrameReadError(DataError, OSError):
    """A video frame (or video file) is missing, unreadable or corrupt.

    Raised in a ``torch.utils.data.DataLoader`` worker, it reaches the main process as a
    ``FrameReadError`` again (not a ``RuntimeError``), with the original message; the worker's
    traceback is kept in ``worker_traceback``.

    Attributes:
        path: the frame or video file (or folder) concerned.
    """

    worker_traceback: str | None = None

    def __init__(self, path: str | os.PathLike, message: str | None = None):
        if message is None:  # DataLoader's re-raise passes one string: "Caught ... Original Traceback ..."
            original = _original_message(os.fspath(path))
            if original is None:
                raise TypeError("FrameReadError(path, message)")
            self.worker_traceback = os.fspath(path)
            self.path = original.split(": ", 1)[0]
            super().__init__(original)
            return
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {message}")

    def __reduce__(self):  # keep the exception picklable across DataLoader workers
        return (_rebuild_frame_error, (self.path, str(self)))


def _rebuild_frame_error(path: str, text: str) -> FrameReadError:
    err = FrameReadError.__new__(FrameReadError)
    err.path = path
    Exception.__init__(err, text)
    return err


def _original_message(text: str) -> str | None:
    """The original message of an error re-raised by a DataLoader worker (its traceback's last line)."""
    if "DataLoader worker" not in text or "Original Traceback" not in text:
        return None
    last = text.rstrip().splitlines()[-1]
    _, sep, message = last.partition(": ")  # "slr_data.errors.FrameReadError: <path>: <reason>"
    return message if sep else None


def short_repr(value, limit: int = 80) -> str:
    """``repr(value)`` cut to about ``limit`` characters, safe on any unpickled data (deep or
    shared containers, integers too long for ``repr``)."""
    shortener = reprlib.Repr()
    shortener.maxlevel, shortener.maxstring, shortener.maxother = 3, limit, limit
    shortener.maxlist = shortener.maxtuple = shortener.maxdict = shortener.maxset = 6
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"<int of {value.bit_length()} bits>"
    try:
        text = shortener.repr(value)
    except (ValueError, RecursionError, TypeError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 2 * limit else text[: 2 * limit] + "..."


class OutputPathError(DataError, OSError):
    """An output path that slr-data refuses to write: it is an input of the same operation, or
    it exists and is not a regular file (a directory, device, FIFO, socket, a link loop).

    Attributes:
        path: the path as the caller gave it.
    """

    def __init__(self, path: str | os.PathLike, message: str):
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {message}")

    def __str__(self) -> str:  # OSError would format "[Errno None] ..."
        return self.args[0]

    def __reduce__(self):
        return (_rebuild_output_error, (self.path, self.args[0]))


def _rebuild_output_error(path: str, text: str) -> OutputPathError:
    err = OutputPathError.__new__(OutputPathError)
    err.path = path
    Exception.__init__(err, text)
    return err
