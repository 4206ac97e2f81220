"""Output folders (``train --out``, ``evaluate --out``) checked before any work starts.

The files inside follow the workspace output policy (:mod:`slr_train.atomic`: atomic writes,
symlinks written through, directories / devices / FIFOs never replaced, a command's inputs never
overwritten). This module adds the folder itself: a path naming a regular file or a device, a
folder under a file, a read-only file system (``EROFS``), ``/sys`` or ``/proc`` is refused at
once, with the option and path named, instead of after an epoch of training. The check writes
nothing that stays (a probe file is created and removed); a missing folder is created only by
the command that then writes in it, so a command refused for another reason leaves no folder.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from slr_train.atomic import TMP_PREFIX, OutputPathError, ensure_output_dir

from slr_phoenix.settings import ConfigError


def _probe(folder: Path) -> OSError | None:
    """Create and remove a file in ``folder``; the error if that is not possible."""
    probe = folder / f"{TMP_PREFIX}probe.{secrets.token_hex(4)}"
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        return exc
    try:
        probe.unlink()
    except OSError:
        pass
    return None


def usable_output_dir(path: str | os.PathLike, option: str = "--out", *, create: bool = False) -> Path:
    """Checks that ``path`` is, or can be created as, a folder this process can write in (and
    creates it with ``create``); else a :class:`ConfigError` ``--out PATH: <what is wrong>``."""
    shown = os.fspath(path)
    folder = Path(shown)
    if create:
        try:
            ensure_output_dir(shown)
        except OutputPathError as exc:
            raise ConfigError(f"{option} {shown}: {exc.strerror}") from exc
    if folder.exists():
        if not folder.is_dir():
            raise ConfigError(f"{option} {shown}: exists and is not a folder")
        error = _probe(folder)
        if error is not None:
            raise ConfigError(f"{option} {shown}: cannot write in this folder: {error.strerror or error}")
        return folder
    ancestor = Path(os.path.abspath(shown)).parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        if os.path.lexists(ancestor):
            raise ConfigError(f"{option} {shown}: {ancestor} is a symbolic link to nothing")
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(f"{option} {shown}: a folder on the way is a file, not a folder ({ancestor})")
    error = _probe(ancestor)
    if error is not None:
        raise ConfigError(f"{option} {shown}: cannot create the folder in {ancestor}: "
                          f"{error.strerror or error}")
    return folder
