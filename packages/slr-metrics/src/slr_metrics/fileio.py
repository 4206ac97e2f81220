"""Bounded line reading with precise error locations, and safe atomic writes.

Reading (:func:`iter_lines`): a file is read line by line within a :class:`~slr_metrics.limits.Limits`
(file size, line length, line count), so ``/dev/zero`` or a multi-gigabyte file is refused after
at most one over-long line, with an error naming the file and line. A regular file larger than
the size limit is refused before anything is read. Pipes, FIFOs and character devices
(``--hyp <(sort hyp.ctm)``, ``/dev/stdin``) are read like files, within the same limits.

Writing (:func:`atomic_write_text`): the text goes to a temporary file in the target's folder,
is fsynced and renamed over the target, so readers see the old file or the complete new one.
The target is checked first (:func:`resolve_output_path`):

* an input of the same command (same real path, or the same file through a hard link) is
  refused, so ``--pra ref.stm`` cannot overwrite the reference;
* a symlink is written *through*: the link stays and the file it points to is replaced (in
  that file's folder); a dangling link creates its target;
* anything that exists and is not a regular file (directory, device, FIFO, socket, a symlink
  loop; also behind a link) is refused;
* every error names the path the caller gave, never the temporary file.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator

from slr_metrics.errors import FormatError, OutputError
from slr_metrics.limits import DEFAULT_LIMITS, Limits

__all__ = ["atomic_write_text", "iter_lines", "resolve_output_path"]

_BOM = b"\xef\xbb\xbf"
#: Bytes :func:`iter_lines` reads at a time.
READ_CHUNK = 1 << 20


def iter_lines(path: str | os.PathLike[str], limits: Limits | None = None) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for every line of a UTF-8 file, 1-based, without the newline.

    Lines end at ``\\n``; a ``\\r`` before it is dropped, so CRLF files read like LF files; a
    leading UTF-8 byte order mark is dropped. The file is read in chunks of at most
    :data:`READ_CHUNK` bytes, so memory stays bounded by one chunk plus ``max_line_bytes``.

    Raises:
        FormatError: naming the file (and line) if it cannot be read, is not valid UTF-8, or
            exceeds ``limits`` (default :data:`~slr_metrics.limits.DEFAULT_LIMITS`).
    """
    limits = limits or DEFAULT_LIMITS
    try:
        handle = open(path, "rb", buffering=0)  # unbuffered: read() below does the chunking
    except OSError as exc:
        raise FormatError(f"cannot read file: {exc.strerror or exc}", path) from exc
    with handle:
        try:
            info = os.fstat(handle.fileno())
        except OSError as exc:
            raise FormatError(f"cannot read file: {exc.strerror or exc}", path) from exc
        if stat.S_ISDIR(info.st_mode):
            raise FormatError("is a directory, not a file", path)
        if stat.S_ISREG(info.st_mode) and info.st_size > limits.max_file_bytes:
            raise FormatError(
                f"file has {info.st_size} bytes, more than the limit of {limits.max_file_bytes} "
                "(max_file_bytes)",
                path,
            )
        number = 0  # lines yielded so far
        total = 0
        pending = b""  # the line being read, without its end yet
        started = False  # a byte order mark was looked for
        while True:
            try:
                chunk = handle.read(READ_CHUNK)
            except OSError as exc:
                raise FormatError(f"cannot read file: {exc.strerror or exc}", path, line=number + 1) from exc
            total += len(chunk)
            if total > limits.max_file_bytes:
                raise FormatError(
                    f"file holds more than the limit of {limits.max_file_bytes} bytes (max_file_bytes)",
                    path,
                    line=number + 1,
                )
            data = pending + chunk
            if not started and (len(data) >= len(_BOM) or not chunk or b"\n" in data):
                started = True
                if data.startswith(_BOM):
                    data = data[len(_BOM) :]
            if not chunk:  # end of file: the last line may lack its newline
                if data:
                    yield from _decode_block(data, number, path, limits)
                return
            cut = data.rfind(b"\n")
            if cut < 0:
                pending = data
            else:
                pending = data[cut + 1 :]
                number = yield from _decode_block(data[:cut], number, path, limits)
            if len(pending) > limits.max_line_bytes + 1:  # + 1: room for a "\r"
                _check_line_count(number + 1, path, limits)
                raise FormatError(
                    f"line is longer than the limit of {limits.max_line_bytes} bytes (max_line_bytes)",
                    path,
                    line=number + 1,
                )


def _check_line_count(number: int, path: str | os.PathLike[str], limits: Limits) -> None:
    if number > limits.max_lines:
        raise FormatError(
            f"file holds more than the limit of {limits.max_lines} lines (max_lines)", path, line=number
        )


def _decode_block(
    block: bytes, before: int, path: str | os.PathLike[str], limits: Limits
) -> Iterator[tuple[int, str]]:
    """Lines ``before + 1, ...`` of ``block`` (lines joined by ``\\n``), checked against ``limits``;
    returns the number of the last line.

    Decodes the whole block at once; only a block that breaks a rule goes line by line
    (:func:`_decode_lines`), to name the first line at fault.
    """
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        lines = text.split("\n")
        if "\r" in text:
            lines = [line[:-1] if line.endswith("\r") else line for line in lines]
        last = before + len(lines)
        max_line = limits.max_line_bytes
        if last <= limits.max_lines and (
            len(block) <= max_line or (text.isascii() and max(map(len, lines)) <= max_line)
        ):
            yield from zip(range(before + 1, last + 1), lines)
            return last
    pieces = block.split(b"\n")
    yield from _decode_lines(pieces, before, path, limits)
    return before + len(pieces)


def _decode_lines(
    pieces: list[bytes], before: int, path: str | os.PathLike[str], limits: Limits
) -> Iterator[tuple[int, str]]:
    """Lines ``before + 1, ...`` from ``pieces`` (lines without ``\\n``), checked against ``limits``."""
    max_line = limits.max_line_bytes
    too_many = before + len(pieces) > limits.max_lines
    too_long = max(map(len, pieces)) > max_line
    for number, raw in enumerate(pieces, start=before + 1):
        if too_many:
            _check_line_count(number, path, limits)
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if too_long and len(raw) > max_line:
            raise FormatError(
                f"line is longer than the limit of {max_line} bytes (max_line_bytes)", path, line=number
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FormatError(
                f"not valid UTF-8 (byte {exc.start + 1} of the line)", path, line=number
            ) from exc
        yield number, text


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _same_file(real: str, target: os.stat_result | None, other: str | os.PathLike[str]) -> bool:
    if os.path.realpath(other) == real:
        return True
    if target is None:
        return False
    try:
        return os.path.samestat(os.stat(other), target)
    except OSError:
        return False


def resolve_output_path(path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = ()) -> str:
    """The real path a write to ``path`` replaces, after the checks in the module docstring.

    Args:
        path: the output path as the caller gave it (named in every error).
        inputs: paths the same command reads; ``path`` must not be any of them.

    Raises:
        OutputError: ``path`` is an input, exists and is not a regular file (also behind a
            symlink), or cannot be examined.
    """
    user = os.fspath(path)
    if not user:
        raise OutputError("an output path must not be empty", "''")
    real = os.path.realpath(user)
    try:
        target: os.stat_result | None = os.stat(real)
    except FileNotFoundError:
        target = None
    except OSError as exc:  # a symlink loop, a path through a file, no permission
        raise OutputError(f"cannot write: {exc.strerror or exc}", user, errno=exc.errno) from exc
    if target is not None and not stat.S_ISREG(target.st_mode):
        where = "" if real == os.path.abspath(user) else f" (through a symlink to {real})"
        raise OutputError(
            f"is {_kind(target.st_mode)}{where}, not a regular file; refusing to replace it", user
        )
    for other in inputs:
        if _same_file(real, target, other):
            raise OutputError(
                f"is also an input of this command ({os.fspath(other)}); refusing to overwrite it", user
            )
    return real


def atomic_write_text(
    path: str | os.PathLike[str], text: str, *, inputs: Iterable[str | os.PathLike[str]] = ()
) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically: temp file in the target's folder, fsync, rename.

    Readers see either the old file or the complete new one, never a partial write; on failure
    the old file is untouched and no temporary file is left. A symlink is written through; an
    existing file keeps its permission bits.

    Raises:
        OutputError: (an :class:`OSError`) naming ``path``: refused by :func:`resolve_output_path`
            (``inputs`` are the command's inputs), or the write failed (no space, read-only, ...).
    """
    user = os.fspath(path)
    real = resolve_output_path(user, inputs)
    folder = os.path.dirname(real)
    try:
        mode = os.stat(real).st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", user, errno=exc.errno) from exc
    import tempfile  # here: slr-score imports it only to write --pra

    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(real) + ".", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write: {exc.strerror or exc}", user, errno=exc.errno) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, real)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise OutputError(f"cannot write: {exc.strerror or exc}", user, errno=exc.errno) from exc
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
