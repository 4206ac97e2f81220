"""The error type of :mod:`slr_models.interop`."""

from __future__ import annotations

import os


class CheckpointImportError(ValueError):
    """A checkpoint (or gloss dict) that cannot be imported; ``path`` names the file, the message says why."""

    def __init__(self, path: str | os.PathLike, message: str):
        self.path = str(path)
        super().__init__(f"{self.path}: {message}")
