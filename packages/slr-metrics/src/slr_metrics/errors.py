"""Errors raised by slr-metrics.

Every error about a file names the file and, where it applies, the 1-based line number, so a
user can jump straight to the problem (``ref.stm:12: expected at least 5 fields``). All of them
derive from :class:`SlrMetricsError` and take ``(message, path=None, *, line=None, key=None)``.
"""

from __future__ import annotations

import os

__all__ = ["FormatError", "OutputError", "ScoringError", "SlrMetricsError", "format_location"]


def format_location(message: str, path: str | None = None, *, line: int | None = None, key=None) -> str:
    """``path:line: key 'k': message`` with the parts that are known (``message`` alone when none is)."""
    where = "" if path is None else path if line is None else f"{path}:{line}"
    if path is None and line is not None:
        where = f"line {line}"
    if key is not None:
        where = f"{where}: key {key!r}" if where else f"key {key!r}"
    return f"{where}: {message}" if where else message


class SlrMetricsError(Exception):
    """Base class of every error raised by slr-metrics: ``SlrMetricsError(message, path=None, *,
    line=None, key=None)``, shown as ``path:line: key 'k': message`` (the parts that are known).

    Attributes:
        message: what is wrong, without the location prefix (also ``reason``, its former name).
        path: the file that holds the problem (``None`` for in-memory data).
        line: 1-based line number inside ``path`` (``None`` when the whole file is at fault).
        key: the offending entry (e.g. an utterance id), or ``None``.
    """

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None, *, line: int | None = None,
                 key=None):
        self.message = str(message)
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.key = key
        super().__init__(format_location(self.message, self.path, line=line, key=key))

    @property
    def reason(self) -> str:
        return self.message

    def __str__(self) -> str:  # OSError subclasses would format "[Errno None] ..."
        return str(self.args[0]) if self.args else ""

    def __reduce__(self):  # picklable with its attributes (multiprocessing scoring)
        state = dict(self.__dict__)
        if isinstance(self, OSError):
            state.update(errno=self.errno, filename=self.filename, strerror=self.strerror)
        return (_rebuild_error, (type(self), self.args, state))


def _rebuild_error(cls: type, args: tuple, state: dict) -> SlrMetricsError:
    err = cls.__new__(cls)
    Exception.__init__(err, *args)
    for name, value in state.items():
        setattr(err, name, value)
    return err


class FormatError(SlrMetricsError, ValueError):
    """Malformed input: a bad STM/CTM/hypothesis line, or a token sclite would read differently."""


class ScoringError(SlrMetricsError, ValueError):
    """Reference and hypothesis do not fit together (e.g. hypothesis ids absent from the reference)."""


class OutputError(SlrMetricsError, OSError):
    """An output path that must not be written, or a write that failed.

    The message names the path the caller gave (never the hidden temporary file):
    ``out.pra: is also an input of this command (ref.stm); refusing to overwrite it``,
    ``out.pra: cannot write: No space left on device``. An :class:`OSError`, so code that
    catches OS errors around a write keeps working; ``errno`` (keyword) is kept.
    """

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None, *, line: int | None = None,
                 key=None, errno: int | None = None):
        super().__init__(message, path, line=line, key=key)
        self.errno = errno
