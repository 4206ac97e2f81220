"""Atomic file writes under the toolkit's output policy.

A file is written to a temp file ``.tmp-<name>.<random>`` beside its target, fsynced, renamed
over the target with ``os.replace`` and the folder fsynced, so readers see the old file or the
complete new one, never a partial write. The output policy (the same in every slr package):

* an existing target must be a regular file: a directory, device, FIFO or socket (also behind a
  symlink) is refused, never replaced;
* a symlink is written *through*: the link stays and the file it points to (a regular file, or
  absent) is replaced atomically, the temp file in that file's folder;
* a write never replaces an input of the same command: ``inputs=`` names them and a target that
  is the same file (``os.path.samefile``: through links and hard links) is refused;
* the new file keeps the permission bits of the file it replaces, else ``0o666 & ~umask``;
* errors are :class:`OutputPathError` (an ``OSError``, errno kept: ``ENOSPC`` for a full disk)
  naming the path the caller gave, never the temp file; the target is untouched and the temp
  file removed, also on ``KeyboardInterrupt``.
"""

from __future__ import annotations

import errno as errnos
import hashlib
import json
import os
import secrets
import stat
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from slr_train.errors import OutputPathError

TMP_PREFIX = ".tmp-"
PathLike = str | os.PathLike


def _problem(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def check_output_file(path: PathLike, *, inputs: Iterable[PathLike | None] = ()) -> Path:
    """Checks ``path`` against the output policy; returns the real file to replace (links followed).

    Raises :class:`OutputPathError` naming ``path`` when it exists and is not a regular file
    (also through a link), when it is one of ``inputs``, or when it cannot be looked at.
    """
    shown = os.fspath(path)
    target = Path(os.path.realpath(shown))
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target
    except NotADirectoryError as e:
        raise OutputPathError("a folder on the way is a file, not a folder", shown, errno=e.errno) from e
    except OSError as e:
        raise OutputPathError(f"cannot look at it: {_problem(e)}", shown, errno=e.errno) from e
    if not stat.S_ISREG(st.st_mode):
        through = f" (through a link to {target})" if os.path.islink(shown) else ""
        raise OutputPathError(f"exists and is {_kind_of(st.st_mode)}{through}, not a regular file; "
                              "refusing to replace it", shown, errno=errnos.EEXIST)
    for given in inputs:
        if given is None:
            continue
        try:
            other = os.stat(given)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            raise OutputPathError(f"is also an input of this command ({os.fspath(given)}); "
                                  "refusing to overwrite it", shown, errno=errnos.EEXIST)
    return target


def ensure_output_dir(path: PathLike) -> Path:
    """Creates the folder ``path`` (and its parents) if needed; :class:`OutputPathError` naming it if not possible."""
    shown = os.fspath(path)
    folder = Path(shown)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as e:  # exists and is not a folder (also a link to a file)
        raise OutputPathError("exists and is not a folder", shown, errno=errnos.ENOTDIR) from e
    except NotADirectoryError as e:
        raise OutputPathError("a folder on the way is a file, not a folder", shown, errno=e.errno) from e
    except OSError as e:
        raise OutputPathError(f"cannot create the folder: {_problem(e)}", shown, errno=e.errno) from e
    if not folder.is_dir():
        raise OutputPathError("exists and is not a folder", shown, errno=errnos.ENOTDIR)
    return folder


def fsync_dir(directory: PathLike) -> None:
    """Flushes a directory entry (a rename) to disk; a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _open_temp(target: Path, mode: int | None) -> tuple[IO[bytes], Path]:
    """A new temp file beside ``target`` (created ``0o666 & ~umask`` by the kernel, or ``mode``)."""
    for _ in range(100):
        tmp = target.with_name(f"{TMP_PREFIX}{target.name}.{secrets.token_hex(4)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            return os.fdopen(fd, "wb"), tmp
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
    raise FileExistsError(errnos.EEXIST, "no free temp file name", str(target.parent))


def atomic_write(path: PathLike, write: Callable[[IO[bytes]], None], *,
                 inputs: Iterable[PathLike | None] = ()) -> Path:
    """Calls ``write(f)`` on a temp file beside ``path``'s real file, then renames it over that file.

    Follows the module's output policy (``inputs``: files this command reads, never replaced).
    Creates missing parent folders. On any error the target is untouched, the temp file is
    removed, and an ``OSError`` becomes :class:`OutputPathError` naming ``path``. Returns ``Path(path)``.
    """
    shown = Path(path)
    target = check_output_file(shown, inputs=inputs)
    if os.path.islink(shown):
        _ensure_parent(target, shown)
    else:
        ensure_output_dir(shown.parent)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise OutputPathError(f"cannot look at it: {_problem(e)}", str(shown), errno=e.errno) from e
    try:
        f, tmp = _open_temp(target, mode)
    except OSError as e:
        raise OutputPathError(f"cannot write: {_problem(e)}", str(shown), errno=e.errno) from e
    try:
        with f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, OutputPathError):
            raise OutputPathError(f"cannot write: {_problem(e)}", str(shown), errno=e.errno) from e
        raise
    fsync_dir(target.parent)
    return shown


def _ensure_parent(target: Path, shown: Path) -> None:
    """The real file's folder (a symlink's target folder) must exist; it is created like any other."""
    try:
        ensure_output_dir(target.parent)
    except OutputPathError as e:
        raise OutputPathError(f"the folder of its link target {target} cannot be used: {e.strerror}", str(shown),
                              errno=e.errno) from e


def atomic_write_bytes(path: PathLike, data: bytes, *, inputs: Iterable[PathLike | None] = ()) -> Path:
    return atomic_write(path, lambda f: f.write(data), inputs=inputs)


def atomic_write_json(path: PathLike, obj: Any, *, inputs: Iterable[PathLike | None] = ()) -> Path:
    text = json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"
    return atomic_write_bytes(path, text.encode("utf-8"), inputs=inputs)


def sha256_file(path: PathLike, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def remove_stale_temp_files(directory: PathLike) -> list[Path]:
    """Deletes temp files left by a process killed mid-write; returns what was removed."""
    removed = []
    directory = Path(directory)
    if directory.is_dir():
        for tmp in directory.glob(TMP_PREFIX + "*"):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed
