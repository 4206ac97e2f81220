"""Errors raised by slr-metrics.

Every error about a file names the file and, where it applies, the 1-based line number, so a
user can jump straight to the problem (``ref.stm:12: expected at least 5 fields``).
"""

from __future__ import annotations

import os

__all__ = ["FormatError", "ScoringError"]


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
