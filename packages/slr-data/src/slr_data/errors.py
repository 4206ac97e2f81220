"""Exceptions raised by slr_data.

Every error that concerns a file names that file (and the line or entry when there is one),
so that a bad row in a 7000-line corpus file can be found without a debugger.
"""

from __future__ import annotations

import os
import reprlib


__all__ = [
    "DataError", "DataFormatError", "FrameReadError", "OutputPathError", "SlrDataError", "UnknownGlossError",
    "UnsafePickleError", "format_location",
]


def format_location(message: str, path: str | None = None, *, line: int | None = None, key=None) -> str:
    """``path:line: key 'k': message`` with the parts that are known (``message`` alone when none is)."""
    where = "" if path is None else path if line is None else f"{path}:{line}"
    if path is None and line is not None:
        where = f"line {line}"
    if key is not None:
        where = f"{where}: key {key!r}" if where else f"key {key!r}"
    return f"{where}: {message}" if where else message


class SlrDataError(Exception):
    """Base class of every error raised by slr_data: ``SlrDataError(message, path=None, *, line=None,
    key=None)``, shown as ``path:line: key 'k': message`` (the parts that are known).

    Attributes:
        message: what is wrong, without the location.
        path: the offending file (``None`` for in-memory data).
        line: 1-based line number, or ``None`` when the problem is not tied to a line.
        key: the offending entry (an ``*_info.npy`` index, a dict key), or ``None``.
    """

    def __init__(self, message: str, path: str | os.PathLike | None = None, *, line: int | None = None,
                 key=None):
        self.message = str(message)
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.key = key
        super().__init__(format_location(self.message, self.path, line=line, key=key))

    def __str__(self) -> str:  # OSError subclasses would format "[Errno None] ..."
        return str(self.args[0]) if self.args else ""

    def __reduce__(self):  # picklable across DataLoader workers, attributes and all
        state = dict(self.__dict__)
        if isinstance(self, OSError):
            state.update(errno=self.errno, filename=self.filename, strerror=self.strerror)
        return (_rebuild_error, (type(self), self.args, state))


def _rebuild_error(cls: type, args: tuple, state: dict) -> SlrDataError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    for name, value in state.items():
        setattr(err, name, value)
    return err


DataError = SlrDataError
"""The former name of :class:`SlrDataError` (kept: ``except DataError`` still works)."""


class DataFormatError(SlrDataError, ValueError):
    """A metadata file (CSV, STM, JSON, pickle, npy) is malformed."""

    @property
    def entry(self):
        """The former name of ``key``."""
        return self.key


class UnsafePickleError(DataFormatError):
    """A pickle asked for a global that is not plain data; nothing was executed."""


class UnknownGlossError(SlrDataError, ValueError):
    """A label contains glosses that the vocabulary does not know (policy ``"error"``).

    ``UnknownGlossError(unknown=[...], context=...)`` writes the standard message (``context``, e.g.
    a video id, leads it); ``unknown`` is kept sorted in the attribute of that name.
    """

    def __init__(self, message: str | None = None, path: str | os.PathLike | None = None, *,
                 line: int | None = None, key=None, unknown=(), context: str | None = None):
        self.unknown = sorted(set(unknown))
        if message is None:
            shown = ", ".join(repr(g) for g in self.unknown[:20])
            more = f" (and {len(self.unknown) - 20} more)" if len(self.unknown) > 20 else ""
            where = f"{context}: " if context else ""
            message = (f"{where}unknown gloss(es) {shown}{more}; build the vocabulary from this data, "
                       f"or use unk_policy='unk' to map them to '<unk>'")
        super().__init__(message, path, line=line, key=key)


class FrameReadError(SlrDataError, OSError):
    """A video frame (or video file) is missing, unreadable or corrupt (``path``: the frame or video
    file, or folder, concerned).

    Raised in a ``torch.utils.data.DataLoader`` worker, it reaches the main process as a
    ``FrameReadError`` again (not a ``RuntimeError``), with the original message; the worker's
    traceback is kept in ``worker_traceback``.
    """

    worker_traceback: str | None = None

    def __init__(self, message: str, path: str | os.PathLike | None = None, *, line: int | None = None,
                 key=None):
        original = _original_message(str(message)) if path is None else None
        if original is not None:  # a DataLoader re-raise: "Caught ... Original Traceback ..."
            self.worker_traceback = str(message)
            where, sep, reason = original.partition(": ")
            if sep:
                message, path = reason, where
            else:
                message = original
        super().__init__(message, path, line=line, key=key)


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


class OutputPathError(SlrDataError, OSError):
    """An output path that slr-data refuses to write: it is an input of the same operation, or
    it exists and is not a regular file (a directory, device, FIFO, socket, a link loop).
    ``path``: the path as the caller gave it."""
