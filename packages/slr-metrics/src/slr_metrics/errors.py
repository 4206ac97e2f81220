"""Errors raised by slr-metrics.

Every error about a file names the file and, where it applies, the 1-based line number, so a
user can jump straight to the problem (``ref.stm:12: expected at least 5 fields``).
"""

from __future__ import annotations

import os

__all__ = ["FormatError", "OutputError", "ScoringError"]


class FormatError(ValueError):
    """Malformed input: a bad STM/CTM/hypothesis line, or a token sclite would read differently.

    Attributes:
        path: the file that holds the problem (``None`` for in-memory data).
        line: 1-based line number inside ``path`` (``None`` when the whole file is at fault).
        reason: what is wrong, without the location prefix.
    """

    def __init__(self, reason: str, path: str | os.PathLike[str] | None = None, line: int | None = None):
        self.reason = reason
        self.path = None if path is None else os.fspath(path)
        self.line = line
        super().__init__(self._format())

    def _format(self) -> str:
        if self.path is None:
            return self.reason
        if self.line is None:
            return f"{self.path}: {self.reason}"
        return f"{self.path}:{self.line}: {self.reason}"


class ScoringError(ValueError):
    """Reference and hypothesis do not fit together (e.g. hypothesis ids absent from the reference)."""


class OutputError(OSError):
    """An output path that must not be written, or a write that failed.

    The message names the path the caller gave (never the hidden temporary file):
    ``out.pra: is also an input of this command (ref.stm); refusing to overwrite it``,
    ``out.pra: cannot write: No space left on device``. An :class:`OSError`, so code that
    catches OS errors around a write keeps working.

    Attributes:
        path: the output path as the caller gave it.
        reason: what is wrong, without the path prefix.
    """

    def __init__(self, reason: str, path: str | os.PathLike[str], errno: int | None = None):
        self.reason = reason
        self.path = os.fspath(path)
        super().__init__(f"{self.path}: {reason}")
        self.errno = errno
