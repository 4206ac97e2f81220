"""Ground-truth STM files in the format of the PHOENIX ``phoenix2014-groundtruth-*.stm``.

One line per video, ``<id> 1 <signer> 0.0 1.79769e+308 <annotation>``, in corpus order, with a
trailing newline. (Scoring lives in slr-metrics; slr-data only writes these files.)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from slr_data._atomic import atomic_write_text
from slr_data.corpus.records import VideoRecord

__all__ = ["format_stm_line", "write_stm"]

STM_START = "0.0"
STM_END = "1.79769e+308"


def format_stm_line(record: VideoRecord) -> str:
    """The STM line of one record (the annotation text is kept verbatim)."""
    text = record.annotation if record.annotation else " ".join(record.glosses)
    return f"{record.video_id} 1 {record.signer} {STM_START} {STM_END} {text}"


def write_stm(path: str | os.PathLike, records: Iterable[VideoRecord]) -> Path:
    """Write an STM file atomically (records in the given order)."""
    return atomic_write_text(path, "".join(format_stm_line(r) + "\n" for r in records))
