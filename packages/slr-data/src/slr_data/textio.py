"""Bounded reading of the text files slr-data takes (corpus CSVs, vocabulary JSON).

:func:`read_text_lines` reads line by line with a bound on each line's length and on the number
of lines (:class:`~slr_data.limits.DataLimits` ``max_line_bytes``, ``max_lines``), so a
careless input (a multi-gigabyte file without newlines, ``/dev/zero``) fails at once with an
error naming the file and the line, instead of filling memory.
"""

from __future__ import annotations

import os
from pathlib import Path

from slr_data.errors import DataFormatError
from slr_data.limits import DataLimits, get_limits

__all__ = ["read_text_lines"]


def read_text_lines(path: str | os.PathLike, *, limits: DataLimits | None = None) -> list[str]:
    """The lines of a UTF-8 text file (BOM dropped), without their ``\\n`` / ``\\r\\n``.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: a directory, a line longer than ``limits.max_line_bytes`` bytes, more
            than ``limits.max_lines`` lines, or text that is not UTF-8 (names file and line).
    """
    path = Path(path)
    limits = limits if limits is not None else get_limits()
    max_bytes, max_lines = limits.max_line_bytes, limits.max_lines
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except IsADirectoryError:
        raise DataFormatError("is a directory, expected a text file", path) from None
    lines: list[str] = []
    with handle:
        while True:
            raw = handle.readline(max_bytes + 2)  # content + "\r\n" at most
            if not raw:
                return lines
            number = len(lines) + 1
            content = raw[:-1] if raw.endswith(b"\n") else raw
            if content.endswith(b"\r"):
                content = content[:-1]
            if len(content) > max_bytes or (len(raw) == max_bytes + 2 and not raw.endswith(b"\n")):
                raise DataFormatError(
                    f"line longer than {max_bytes} bytes (SLR_DATA_MAX_LINE_BYTES): "
                    "not a text file of this kind?",
                    path,
                    line=number,
                )
            if number > max_lines:
                raise DataFormatError(f"more than {max_lines} lines (SLR_DATA_MAX_LINES)", path, line=number)
            if number == 1 and content.startswith(b"\xef\xbb\xbf"):
                content = content[3:]
            try:
                lines.append(content.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise DataFormatError(
                    f"not UTF-8 text (byte {exc.start + 1} of the line)", path, line=number
                ) from None
