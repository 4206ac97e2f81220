"""CSL-Daily (Chinese Sign Language, continuous sentences) reader.

Official release layout::

    CSL-Daily/
      sentence_label/csl2020ct_v2.pkl      # pickled dict, read with the restricted unpickler
      sentence_label/split_1.txt           # header "name|split", then "<name>|train|dev|test"
      sentence/frames_512x512/<name>/*.jpg # the frames of each video (natural sort order)

``csl2020ct_v2.pkl`` holds ``{"gloss_map": [...], "char_map": [...], "word_map": [...],
"info": [{...}, ...]}``; of each ``info`` entry this reader uses ``name`` (the video id, e.g.
``S000000_P0000_T00``), ``label_gloss`` (the gloss sequence, a list of Chinese strings),
``label_char`` (the sentence's characters, kept joined as the record's ``translation``),
``signer`` (an int, written as ``Signer<n>``) and ``length`` (frames; used when frame folders
are not counted). Other keys (``label_word``, ``label_postag``, the maps) are ignored. The
gloss vocabulary is built from the train glosses, as for the PHOENIX release layout.

Glosses are UTF-8 strings and stay so end to end: the records, the vocabulary, STM files (written
as UTF-8) and the scored CTM files. Scoring is plain gloss WER (the ``csl-daily`` protocol of
slr-metrics: glosses as given, no PHOENIX clean-up).
"""

from __future__ import annotations

import os
from pathlib import Path

from slr_data.corpus.phoenix2014 import check_name
from slr_data.corpus.records import SPLITS, Corpus, VideoRecord, count_frames, display, resolve_under
from slr_data.errors import DataFormatError, short_repr
from slr_data.safe_pickle import load_pickle
from slr_data.textio import read_text_lines
from slr_data.vocabulary import Vocabulary

__all__ = [
    "CSL_DAILY_LABELS",
    "CSL_DAILY_SPLIT_HEADER",
    "CSL_DAILY_FRAMES",
    "find_csl_daily_root",
    "read_csl_daily_labels",
    "read_csl_daily_split",
    "load_csl_daily",
]

CSL_DAILY_LABELS = Path("sentence_label") / "csl2020ct_v2.pkl"
CSL_DAILY_SPLIT_FILE = "split_1.txt"
CSL_DAILY_SPLIT_HEADER = ("name", "split")
CSL_DAILY_FRAMES = Path("sentence") / "frames_512x512"


def find_csl_daily_root(path: str | os.PathLike) -> Path | None:
    """The CSL-Daily folder at or under ``path`` (the one holding ``sentence_label/csl2020ct_v2.pkl``)."""
    path = Path(path)
    for candidate in (path, path / "CSL-Daily", path / "csl-daily", path / "CSL_Daily"):
        if (candidate / CSL_DAILY_LABELS).is_file():
            return candidate
    return None


def read_csl_daily_labels(path: str | os.PathLike) -> dict[str, dict]:
    """``name -> info entry`` of ``csl2020ct_v2.pkl`` (checked: ``name`` and ``label_gloss``).

    Raises:
        DataFormatError: not a dict with an ``info`` list, an entry without a valid ``name`` or
            with ``label_gloss`` not a list of gloss strings, a bad ``signer`` / ``length``, a
            duplicate name (names file and entry).
    """
    path = Path(path)
    data = load_pickle(path)
    if not isinstance(data, dict) or not isinstance(data.get("info"), list):
        raise DataFormatError("expected a dict with an 'info' list (the CSL-Daily label file)", path)
    entries: dict[str, dict] = {}
    for index, entry in enumerate(data["info"]):
        if not isinstance(entry, dict):
            raise DataFormatError(f"expected a dict, found {type(entry).__name__}", path, key=index)
        name = entry.get("name")
        if not isinstance(name, str):
            raise DataFormatError(f"field 'name' must be str, got {short_repr(name)}", path, key=index)
        check_name(path, "name", name, entry=index)
        if "/" in name or "\\" in name or name in (".", ".."):
            raise DataFormatError(f"name {name!r} must not be a path", path, key=index)
        glosses = entry.get("label_gloss")
        if not isinstance(glosses, (list, tuple)) or not all(isinstance(g, str) for g in glosses):
            raise DataFormatError(
                f"field 'label_gloss' must be a list of str, got {short_repr(glosses)}", path, key=index
            )
        for gloss in glosses:
            if not gloss or any(ch.isspace() or not ch.isprintable() for ch in gloss):
                raise DataFormatError(
                    f"gloss {short_repr(gloss)} must be non-empty without spaces", path, key=index
                )
        for attr in ("signer", "length"):
            value = entry.get(attr)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise DataFormatError(
                    f"field {attr!r} must be a non-negative int, got {short_repr(value)}", path, key=index
                )
        if name in entries:
            raise DataFormatError(f"duplicate name {name!r}", path, key=index)
        entries[name] = entry
    return entries


def read_csl_daily_split(path: str | os.PathLike) -> dict[str, str]:
    """``name -> split`` of a ``split_*.txt`` (header ``name|split``; splits train/dev/test).

    Raises:
        DataFormatError: wrong header, a line without 2 ``|``-separated fields, an unknown split,
            a duplicate name (names file and line).
    """
    path = Path(path)
    lines = read_text_lines(path)
    if not lines or tuple(lines[0].strip().split("|")) != CSL_DAILY_SPLIT_HEADER:
        found = lines[0] if lines else ""
        raise DataFormatError(f"header {found!r} is not {'|'.join(CSL_DAILY_SPLIT_HEADER)!r}", path, line=1)
    splits: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.strip().split("|")
        if len(fields) != 2:
            raise DataFormatError(f"expected 2 '|'-separated fields, found {len(fields)}", path, line=number)
        name, split = fields
        if split not in SPLITS:
            raise DataFormatError(f"split {split!r} is not one of {SPLITS}", path, line=number)
        if name in splits:
            raise DataFormatError(f"duplicate name {name!r}", path, line=number)
        splits[name] = split
    return splits


def load_csl_daily(
    path: str | os.PathLike,
    *,
    frames_root: str | os.PathLike | None = None,
    unk_policy: str = "error",
    splits: tuple[str, ...] = SPLITS,
    split_file: str = CSL_DAILY_SPLIT_FILE,
    with_frame_counts: bool = True,
) -> Corpus:
    """Load CSL-Daily from its release folder (or a folder containing ``CSL-Daily``).

    Args:
        path: the release folder (see the module docstring).
        frames_root: the folder holding ``<name>/`` frame folders (default ``sentence/frames_512x512``).
        unk_policy: the vocabulary's unknown-gloss policy (see :class:`~slr_data.Vocabulary`).
        splits: which splits to read.
        split_file: the split list in ``sentence_label/`` (``split_1.txt``, the official one).
        with_frame_counts: count the frame files of each video; ``False`` takes the label file's
            ``length`` instead (no directory scans).

    Raises:
        FileNotFoundError: no CSL-Daily label file under ``path``, or the split file is missing.
        DataFormatError: a malformed label or split file; a split name absent from the labels.
    """
    root = find_csl_daily_root(path)
    if root is None:
        raise FileNotFoundError(
            f"{path}: no CSL-Daily corpus found (looked for {CSL_DAILY_LABELS.as_posix()})"
        )
    labels_path = root / CSL_DAILY_LABELS
    split_path = root / "sentence_label" / split_file
    if not split_path.is_file():
        raise FileNotFoundError(f"{split_path}: CSL-Daily split file is missing")
    labels = read_csl_daily_labels(labels_path)
    assignment = read_csl_daily_split(split_path)
    frames = Path(frames_root) if frames_root is not None else root / CSL_DAILY_FRAMES
    lines = {name: number for number, name in enumerate(assignment, start=2)}
    records: dict[str, list[VideoRecord]] = {split: [] for split in splits}
    for name, split in assignment.items():
        if split not in records:
            continue
        entry = labels.get(name)
        if entry is None:
            raise DataFormatError(
                f"video {name!r} is not in {labels_path.name}", split_path, line=lines[name]
            )
        frame_dir = resolve_under(frames, name)
        glosses = tuple(entry["label_gloss"])
        chars = entry.get("label_char")
        signer = entry.get("signer")
        counted = count_frames(frame_dir, "*.jpg") if with_frame_counts else None
        records[split].append(
            VideoRecord(
                video_id=name,
                split=split,
                signer=f"Signer{signer:02d}" if signer is not None else "unknown",
                glosses=glosses,
                num_frames=counted if counted is not None else entry.get("length"),
                frame_dir=frame_dir,
                frame_pattern="*.jpg",
                annotation=" ".join(glosses),
                translation="".join(map(str, chars)) if isinstance(chars, list) else None,
                source=display(labels_path, entry=name),
            )
        )
    records = {split: rows for split, rows in records.items() if rows}
    if "train" not in records:
        raise DataFormatError("no train videos: the vocabulary is built from train", split_path)
    vocab = Vocabulary.from_sequences((r.glosses for r in records["train"]), unk_policy=unk_policy)
    return Corpus("csl-daily", records, vocab, root, {})
