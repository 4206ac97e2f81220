"""Atomic file writes: temp file beside the target + fsync + ``os.replace``, under the output policy.

Output policy (the same in every slr package):

* a write never replaces an input of the same operation (``inputs=``; compared as files, so
  another spelling of the path or a hard link counts);
* a symbolic link is written **through**: the link stays and its target (followed to the end) is
  replaced atomically in the target's folder, when that target is a regular file or absent;
* anything that exists and is not a regular file (a directory, device, FIFO or socket, also
  behind a link, or a link loop) is refused with :class:`~slr_data.errors.OutputPathError`;
* errors name the path the caller gave, never the hidden temp file; an existing file keeps its
  permission bits, a new one gets ``0o666`` minus the umask.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from slr_data.errors import OutputPathError

__all__ = ["resolve_output_path", "atomic_write_bytes", "atomic_write_text", "atomic_save_npy"]


def resolve_output_path(path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """The file a write to ``path`` replaces: ``path``, or the end of the symlink chain at ``path``.

    Raises:
        OutputPathError: the target exists and is not a regular file, is one of ``inputs``, or
            ``path`` is a link loop (names ``path``).
    """
    given = Path(path)
    target = Path(os.path.realpath(given)) if given.is_symlink() else given
    try:
        info = os.stat(target)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OutputPathError(f"cannot write here ({exc.strerror})", given) from None
        info = None  # absent, or under a file: creating it fails with an OSError naming the path
    if info is not None and not stat.S_ISREG(info.st_mode):
        kind = (
            "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file (a device, FIFO or socket?)"
        )
        link = f" (through the link to {target})" if target != given else ""
        raise OutputPathError(f"exists and is {kind}{link}; refusing to replace it", given)
    if info is not None:
        for source in inputs:
            try:
                same = os.path.samestat(info, os.stat(source))
            except OSError:  # an absent input cannot be overwritten
                continue
            if same:
                raise OutputPathError(
                    f"is also an input of this operation ({os.fspath(source)}); refusing to overwrite it",
                    given,
                )
    return target


def atomic_write_bytes(
    path: str | os.PathLike, data: bytes, *, inputs: Iterable[str | os.PathLike] = ()
) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old or the new file, never a torn one.

    Follows the module's output policy; returns ``path``. OS errors (no space, read-only file
    system, permissions) are raised as ``OSError`` naming ``path``.
    """
    given = Path(path)
    target = resolve_output_path(given, inputs=inputs)
    try:
        if target == given:
            target.parent.mkdir(parents=True, exist_ok=True)
        mode = _mode_for(target)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _named(exc, given) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _named(exc, given) from exc
        raise
    _fsync_dir(target.parent)
    return given


def atomic_write_text(
    path: str | os.PathLike, text: str, *, inputs: Iterable[str | os.PathLike] = ()
) -> Path:
    """UTF-8 text version of :func:`atomic_write_bytes` (``\\n`` line endings)."""
    return atomic_write_bytes(path, text.encode("utf-8"), inputs=inputs)


def atomic_save_npy(path: str | os.PathLike, obj, *, inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """``np.save(path, obj)`` done atomically (objects are pickled, as numpy does)."""
    buffer = io.BytesIO()
    np.save(buffer, obj, allow_pickle=True)
    return atomic_write_bytes(path, buffer.getvalue(), inputs=inputs)


def _named(exc: OSError, path: Path) -> OSError:
    """``exc`` re-made to name the user's ``path`` (not the temp file); same errno and class."""
    if exc.errno is None:
        return exc
    return OSError(exc.errno, exc.strerror or os.strerror(exc.errno), os.fspath(path))


def _mode_for(target: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - no /proc: read it by setting it back
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
