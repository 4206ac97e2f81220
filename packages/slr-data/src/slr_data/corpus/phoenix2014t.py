"""PHOENIX-2014-T readers (``PHOENIX-2014-T.{split}.corpus.csv``).

Release layout::

    PHOENIX-2014-T/
      annotations/manual/PHOENIX-2014-T.{train,dev,test}.corpus.csv
          # header: name|video|start|end|speaker|orth|translation
      features/fullFrame-210x260px/<split>/<name>/*.png

The ``video`` column reads ``<name>/1/*.png`` although the released frames sit directly in
``<split>/<name>/``; both places are tried, the ``video`` path first.
"""

from __future__ import annotations

import os
from pathlib import Path

from slr_data.corpus.phoenix2014 import _split_folder, check_name
from slr_data.corpus.records import SPLITS, Corpus, VideoRecord, count_frames, display, resolve_under
from slr_data.errors import DataFormatError
from slr_data.textio import read_text_lines
from slr_data.vocabulary import Vocabulary

__all__ = ["PHOENIX2014T_CSV_HEADER", "read_phoenix2014t_csv", "load_phoenix2014t"]

PHOENIX2014T_CSV_HEADER = ("name", "video", "start", "end", "speaker", "orth", "translation")


def read_phoenix2014t_csv(
    path: str | os.PathLike,
    *,
    split: str,
    frames_root: str | os.PathLike,
    with_frame_counts: bool = True,
) -> list[VideoRecord]:
    """Records of a 2014-T corpus CSV; ``translation`` is kept on each record.

    Raises:
        DataFormatError: wrong header, a row without exactly 7 fields, a name or speaker with
            spaces, a video path leading outside ``frames_root / split`` (names file and line).
    """
    path = Path(path)
    split_root = Path(frames_root) / split
    lines = read_text_lines(path)
    if not lines or tuple(lines[0].split("|")) != PHOENIX2014T_CSV_HEADER:
        found = lines[0] if lines else ""
        raise DataFormatError(f"header {found!r} is not {'|'.join(PHOENIX2014T_CSV_HEADER)!r}", path, line=1)
    records = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 7:
            raise DataFormatError(f"expected 7 '|'-separated fields, found {len(fields)}", path, line=number)
        name, video, _start, _end, speaker, orth, translation = fields
        if not name or not speaker:
            raise DataFormatError("empty name or speaker", path, line=number)
        check_name(path, "name", name, line=number)
        check_name(path, "speaker", speaker, line=number)
        if "/" in name or "\\" in name or name in (".", ".."):
            raise DataFormatError(f"name {name!r} must not be a path", path, line=number)
        relative, pattern = _split_folder(video or f"{name}/1/*.png")
        try:
            frame_dir = resolve_under(split_root, relative)
        except ValueError as exc:
            raise DataFormatError(f"video: {exc}", path, line=number) from None
        if not frame_dir.is_dir() and (split_root / name).is_dir():
            frame_dir = split_root / name
        records.append(
            VideoRecord(
                video_id=name,
                split=split,
                signer=speaker,
                glosses=tuple(orth.split()),
                num_frames=count_frames(frame_dir, pattern) if with_frame_counts else None,
                frame_dir=frame_dir,
                frame_pattern=pattern,
                annotation=orth,
                translation=translation,
                source=display(path, line=number),
            )
        )
    return records


def _find_root(path: Path) -> Path | None:
    for candidate in (path, path / "PHOENIX-2014-T", path / "PHOENIX-2014-T-release-v3" / "PHOENIX-2014-T"):
        if (candidate / "annotations" / "manual" / "PHOENIX-2014-T.train.corpus.csv").is_file():
            return candidate
    return None


def load_phoenix2014t(
    path: str | os.PathLike,
    *,
    resolution: str = "210x260px",
    frames_root: str | os.PathLike | None = None,
    unk_policy: str = "error",
    splits: tuple[str, ...] = SPLITS,
    with_frame_counts: bool = True,
) -> Corpus:
    """Load PHOENIX-2014-T; the gloss vocabulary is built from the train ``orth`` column."""
    path = Path(path)
    root = _find_root(path)
    if root is None:
        raise FileNotFoundError(
            f"{path}: no PHOENIX-2014-T corpus found "
            "(looked for annotations/manual/PHOENIX-2014-T.train.corpus.csv)"
        )
    features = Path(frames_root) if frames_root is not None else root / "features" / f"fullFrame-{resolution}"
    records = {}
    for split in splits:
        csv_path = root / "annotations" / "manual" / f"PHOENIX-2014-T.{split}.corpus.csv"
        if csv_path.is_file():
            records[split] = read_phoenix2014t_csv(
                csv_path, split=split, frames_root=features, with_frame_counts=with_frame_counts
            )
    vocab = Vocabulary.from_sequences((r.glosses for r in records["train"]), unk_policy=unk_policy)
    return Corpus("phoenix2014t", records, vocab, root, {})
