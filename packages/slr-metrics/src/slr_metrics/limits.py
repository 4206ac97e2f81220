"""Resource limits for reading and scoring untrusted files.

A careless or hostile input (``/dev/zero`` as a reference, a 2 MB pair of files whose single
utterance would need a 250 GB alignment table) must fail with an error naming the file, not
take the machine's memory. Every reader and scorer takes a :class:`Limits`; the defaults are
far above any real evaluation set (PHOENIX-2014 dev: 540 lines, 76 kB; a CTM for it: ~5500 lines)
and ``slr-score`` reads overrides from environment variables (:meth:`Limits.from_env`).

========================  =================  =================================================
field                     default            environment variable (``slr-score``)
========================  =================  =================================================
``max_file_bytes``        256 MiB            ``SLR_SCORE_MAX_FILE_BYTES``
``max_line_bytes``        1 MiB              ``SLR_SCORE_MAX_LINE_BYTES``
``max_lines``             5,000,000          ``SLR_SCORE_MAX_LINES``
``max_alignment_cells``   10,000,000         ``SLR_SCORE_MAX_ALIGNMENT_CELLS``
========================  =================  =================================================

``max_alignment_cells`` bounds ``len(ref) * len(hyp)`` of one utterance (the aligners keep an
``(n + 1) x (m + 1)`` table of 1 byte (sclite, SLRT) or 4 bytes (Levenshtein) per cell; 10**7
cells is about 3000 x 3000 words, a few seconds and under ~60 MB). A regular file larger than
``max_file_bytes`` is refused before it is read; pipes, FIFOs and character devices are read up
to the limits and refused as soon as one is exceeded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

__all__ = ["DEFAULT_LIMITS", "ENV_VARS", "Limits"]

#: Field name -> environment variable ``slr-score`` reads it from.
ENV_VARS = {
    "max_file_bytes": "SLR_SCORE_MAX_FILE_BYTES",
    "max_line_bytes": "SLR_SCORE_MAX_LINE_BYTES",
    "max_lines": "SLR_SCORE_MAX_LINES",
    "max_alignment_cells": "SLR_SCORE_MAX_ALIGNMENT_CELLS",
}


@dataclass(frozen=True)
class Limits:
    """Bounds on what one read or one scoring run may consume (all positive whole numbers).

    Attributes:
        max_file_bytes: bytes one input file may hold.
        max_line_bytes: bytes one line may hold (without its ``\\n`` / ``\\r\\n``).
        max_lines: lines one input file may hold (blank and comment lines included).
        max_alignment_cells: ``len(ref) * len(hyp)`` one utterance may need.
    """

    max_file_bytes: int = 256 * 2**20
    max_line_bytes: int = 2**20
    max_lines: int = 5_000_000
    max_alignment_cells: int = 10_000_000

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{item.name} must be a positive whole number, got {value!r}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, base: Limits | None = None) -> Limits:
        """``base`` (default: the defaults) with every limit whose variable in :data:`ENV_VARS`
        is set in ``environ`` (default ``os.environ``) replaced by its value.

        Raises:
            ValueError: naming the variable, when its value is not a positive whole number.
        """
        environ = os.environ if environ is None else environ
        base = base or DEFAULT_LIMITS
        values = {item.name: getattr(base, item.name) for item in fields(base)}
        for name, variable in ENV_VARS.items():
            text = environ.get(variable)
            if text is None or text.strip() == "":
                continue
            try:
                value = int(text.strip())
            except ValueError:
                value = 0
            if value < 1:
                raise ValueError(f"environment variable {variable}={text!r} is not a positive whole number")
            values[name] = value
        return cls(**values)


#: The limits used when none are given.
DEFAULT_LIMITS = Limits()
