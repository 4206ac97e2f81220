"""Output folders (``train --out``, ``evaluate --out``) checked before any work starts.

The files inside follow the workspace output policy (:mod:`slr_train.atomic`: atomic writes,
symlinks written through, directories / devices / FIFOs never replaced, a command's inputs never
overwritten). This module adds the folder itself: it is created if missing, and a file is
created and removed in it, so that a path naming a regular file or a device, a folder under a
file, a read-only file system (``EROFS``), ``/sys`` or ``/proc`` is refused at once, with the
option and path named, instead of after an epoch of training.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from slr_train.atomic import TMP_PREFIX, OutputPathError, ensure_output_dir

from slr_phoenix.settings import ConfigError


def usable_output_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """``path`` as a folder the command can write in (created if missing); else a
    :class:`ConfigError` ``--out PATH: <what is wrong>``."""
    shown = os.fspath(path)
    try:
        folder = ensure_output_dir(shown)
    except OutputPathError as exc:
        raise ConfigError(f"{option} {shown}: {exc.strerror}") from exc
    probe = folder / f"{TMP_PREFIX}probe.{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise ConfigError(f"{option} {shown}: cannot write in this folder: {exc.strerror or exc}") from exc
    os.close(fd)
    try:
        probe.unlink()
    except OSError:
        pass
    return folder
