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
``(n + 1) x (m + 1)`` table of 1 byte (SLRT) or 4 bytes (sclite, Levenshtein) per cell; 10**7
cells is about 3000 x 3000 words, a few seconds and under ~60 MB). A regular file larger than
``max_file_bytes`` is refused before it is read; pipes, FIFOs and character devices are read up
to the limits and refused as soon as one is exceeded.
"""

from __future__ import annotations

import os
from collections import namedtuple
from collections.abc import Mapping

__all__ = ["DEFAULT_LIMITS", "ENV_VARS", "Limits"]

#: Field name -> environment variable ``slr-score`` reads it from.
ENV_VARS = {
    "max_file_bytes": "SLR_SCORE_MAX_FILE_BYTES",
    "max_line_bytes": "SLR_SCORE_MAX_LINE_BYTES",
    "max_lines": "SLR_SCORE_MAX_LINES",
    "max_alignment_cells": "SLR_SCORE_MAX_ALIGNMENT_CELLS",
}

_Fields = namedtuple("Limits", tuple(ENV_VARS), defaults=(256 * 2**20, 2**20, 5_000_000, 10_000_000))


class Limits(_Fields):
    """Bounds on what one read or one scoring run may consume (all positive whole numbers).

    An immutable named tuple (see :mod:`slr_metrics.counts` for why not a dataclass), validated
    when built; ``limits._replace(max_lines=10)`` validates the copy too.

    Attributes:
        max_file_bytes: bytes one input file may hold (default 256 MiB).
        max_line_bytes: bytes one line may hold (without its ``\\n`` / ``\\r\\n``; default 1 MiB).
        max_lines: lines one input file may hold (blank and comment lines included; default 5,000,000).
        max_alignment_cells: ``len(ref) * len(hyp)`` one utterance may need (default 10,000,000).
    """

    __slots__ = ()

    def __new__(cls, *args: int, **kwargs: int) -> Limits:
        self = super().__new__(cls, *args, **kwargs)
        for name, value in zip(cls._fields, self, strict=True):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive whole number, got {value!r}")
        return self

    def _replace(self, **changes: int) -> Limits:
        return type(self)(**{**self._asdict(), **changes})

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, base: Limits | None = None) -> Limits:
        """``base`` (default: the defaults) with every limit whose variable in :data:`ENV_VARS`
        is set in ``environ`` (default ``os.environ``) replaced by its value.

        Raises:
            ValueError: naming the variable, when its value is not a positive whole number.
        """
        environ = os.environ if environ is None else environ
        base = base or DEFAULT_LIMITS
        values = base._asdict()
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
