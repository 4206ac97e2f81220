"""PHOENIX-2014 (multisigner) readers.

Two sources give the same records:

* the VAC-style preprocessed ``{split}_info.npy`` + ``gloss_dict.npy`` (read with the restricted
  unpickler; ``folder`` is relative to the ``prefix`` stored in the file or to ``frames_root``);
* the official release layout::

    phoenix-2014-multisigner/
      annotations/manual/{train,dev,test}.corpus.csv   # id|folder|signer|annotation
      features/fullFrame-210x260px/<split>/<id>/1/*.png  # or fullFrame-256x256px
      evaluation/phoenix2014-groundtruth-{dev,test}.stm

  with the vocabulary built from the train annotations.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from slr_data.corpus.records import SPLITS, Corpus, VideoRecord, count_frames, display, resolve_under
from slr_data.errors import DataFormatError, short_repr
from slr_data.limits import get_limits
from slr_data.safe_pickle import load_info
from slr_data.textio import read_text_lines
from slr_data.vocabulary import Vocabulary

__all__ = [
    "CORPUS_CSV_HEADER",
    "read_info_file",
    "read_corpus_csv",
    "find_release_root",
    "load_phoenix2014",
]

CORPUS_CSV_HEADER = ("id", "folder", "signer", "annotation")
RESOLUTIONS = ("210x260px", "256x256px")
_INFO_FIELDS = {"fileid": str, "folder": str, "signer": str, "label": str, "num_frames": int}


def _split_folder(folder: str) -> tuple[str, str]:
    """``'dev/<id>/1/*.png'`` -> (``'dev/<id>/1'``, ``'*.png'``)."""
    pure = PurePosixPath(folder.replace("\\", "/"))
    if any(ch in pure.name for ch in "*?["):
        return str(pure.parent), pure.name
    return str(pure), "*.png"


def read_info_file(
    path: str | os.PathLike,
    *,
    split: str | None = None,
    frames_root: str | os.PathLike | None = None,
) -> list[VideoRecord]:
    """Records of one ``{split}_info.npy`` file, in file order.

    Args:
        path: the ``*_info.npy`` file.
        split: split name; default: taken from the file name (``dev_info.npy`` -> ``"dev"``).
        frames_root: folder that ``entry["folder"]`` is relative to (the ``fullFrame-*`` folder).
            Default: the file's ``prefix``, absolute or relative to the file's folder.

    Raises:
        DataFormatError: an entry lacks a field or has the wrong type, ``num_frames`` is negative
            or above ``DataLimits.max_video_frames``, an id or signer holds spaces, or ``folder``
            leads outside ``frames_root`` (names file and entry).
    """
    path = Path(path)
    info = load_info(path)
    if split is None:
        split = path.name.split("_info")[0]
    root = Path(frames_root) if frames_root is not None else _root_from_prefix(path, info.get("prefix"))
    return _records_from_info(info, path, split, root)


def _records_from_info(info: dict, path: Path, split: str, root: Path) -> list[VideoRecord]:
    keys = [k for k in info if k != "prefix"]
    bad = [k for k in keys if isinstance(k, bool) or not isinstance(k, int)]
    if bad:
        raise DataFormatError(
            f"unexpected key {short_repr(bad[0])}: expected 'prefix' and integer entries", path
        )
    keys.sort()
    if keys != list(range(len(keys))):
        raise DataFormatError(f"entry keys are not 0..{len(keys) - 1}", path)
    max_frames = get_limits().max_video_frames
    records = []
    for key in keys:
        entry = info[key]
        if not isinstance(entry, dict):
            raise DataFormatError(f"expected a dict, found {type(entry).__name__}", path, key=key)
        for name, kind in _INFO_FIELDS.items():
            value = entry.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise DataFormatError(
                    f"field {name!r} must be {kind.__name__}, got {short_repr(value)}", path, key=key
                )
        num_frames = entry["num_frames"]
        if num_frames < 0:
            raise DataFormatError(f"negative num_frames {short_repr(num_frames)}", path, key=key)
        if num_frames > max_frames:
            raise DataFormatError(
                f"num_frames {short_repr(num_frames)} is more than a video may have ({max_frames}, "
                "SLR_DATA_MAX_VIDEO_FRAMES)",
                path,
                key=key,
            )
        for name in ("fileid", "signer"):
            check_name(path, name, entry[name], entry=key)
        folder, pattern = _split_folder(entry["folder"])
        try:
            frame_dir = resolve_under(root, folder)
        except ValueError as exc:
            raise DataFormatError(f"field 'folder': {exc}", path, key=key) from None
        records.append(
            VideoRecord(
                video_id=entry["fileid"],
                split=split,
                signer=entry["signer"],
                glosses=tuple(entry["label"].split()),
                num_frames=num_frames,
                frame_dir=frame_dir,
                frame_pattern=pattern,
                annotation=entry["label"],
                source=display(path, entry=key),
            )
        )
    return records


def check_name(path, field: str, value: str, *, line: int | None = None, entry=None) -> None:
    """A video id or signer: non-empty, without whitespace or control characters (it becomes one
    field of STM / CTM lines)."""
    if not value or any(ch.isspace() or not ch.isprintable() for ch in value):
        raise DataFormatError(
            f"{field} {short_repr(value)} must be non-empty without spaces or control characters",
            path,
            line=line,
            key=entry,
        )


def _root_from_prefix(info_path: Path, prefix) -> Path:
    if not isinstance(prefix, str) or not prefix:
        return info_path.parent
    candidate = Path(prefix)
    if candidate.is_absolute():
        return candidate
    beside = info_path.parent / candidate
    if not beside.exists() and candidate.exists():
        return candidate.resolve()
    return beside


def read_corpus_csv(
    path: str | os.PathLike,
    *,
    split: str,
    frames_root: str | os.PathLike,
    with_frame_counts: bool = True,
) -> list[VideoRecord]:
    """Records of a release ``{split}.corpus.csv`` (``id|folder|signer|annotation``).

    Args:
        frames_root: the ``features/fullFrame-*`` folder; frames are in ``frames_root/split/folder``.
        with_frame_counts: count the frame files of each video (``num_frames``; ``None`` when its
            folder is absent). Set ``False`` to skip the directory scans.

    Raises:
        DataFormatError: wrong header, a row without exactly 4 fields, an id or signer with
            spaces, a folder leading outside ``frames_root / split``, a line or line count over
            the text limits (names file and line).
    """
    path = Path(path)
    frames_root = Path(frames_root)
    lines = read_text_lines(path)
    if not lines:
        raise DataFormatError("empty corpus file (expected header 'id|folder|signer|annotation')", path)
    header = tuple(lines[0].split("|"))
    if header != CORPUS_CSV_HEADER:
        raise DataFormatError(f"header {lines[0]!r} is not {'|'.join(CORPUS_CSV_HEADER)!r}", path, line=1)
    records = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) != 4:
            raise DataFormatError(f"expected 4 '|'-separated fields, found {len(fields)}", path, line=number)
        video_id, folder, signer, annotation = fields
        if not video_id or not folder or not signer:
            raise DataFormatError("empty id, folder or signer", path, line=number)
        check_name(path, "id", video_id, line=number)
        check_name(path, "signer", signer, line=number)
        if video_id in seen:
            raise DataFormatError(
                f"duplicate id {video_id!r} (first on line {seen[video_id]})", path, line=number
            )
        seen[video_id] = number
        relative, pattern = _split_folder(folder)
        try:
            frame_dir = resolve_under(frames_root / split, relative)
        except ValueError as exc:
            raise DataFormatError(f"folder: {exc}", path, line=number) from None
        records.append(
            VideoRecord(
                video_id=video_id,
                split=split,
                signer=signer,
                glosses=tuple(annotation.split()),
                num_frames=count_frames(frame_dir, pattern) if with_frame_counts else None,
                frame_dir=frame_dir,
                frame_pattern=pattern,
                annotation=annotation,
                source=display(path, line=number),
            )
        )
    return records


def find_release_root(path: str | os.PathLike) -> Path | None:
    """The ``phoenix-2014-multisigner`` folder at or under ``path`` (``None`` if not there)."""
    path = Path(path)
    for candidate in (
        path,
        path / "phoenix-2014-multisigner",
        path / "phoenix2014-release" / "phoenix-2014-multisigner",
    ):
        if (candidate / "annotations" / "manual" / "train.corpus.csv").is_file():
            return candidate
    return None


def _find_info_dir(path: Path) -> Path | None:
    for candidate in (path, path / "preprocess" / "phoenix2014"):
        if (candidate / "train_info.npy").is_file() and (candidate / "gloss_dict.npy").is_file():
            return candidate
    return None


def load_phoenix2014(
    path: str | os.PathLike,
    *,
    source: str = "auto",
    resolution: str = "210x260px",
    frames_root: str | os.PathLike | None = None,
    unk_policy: str = "error",
    splits: tuple[str, ...] = SPLITS,
    with_frame_counts: bool = True,
) -> Corpus:
    """Load PHOENIX-2014 (or the synthetic corpus, which has the same layout).

    Args:
        path: a folder with ``{split}_info.npy`` + ``gloss_dict.npy`` (or its ``preprocess/phoenix2014``),
            or a release folder (``phoenix-2014-multisigner`` or a folder containing it).
        source: ``"info"``, ``"release"`` or ``"auto"`` (info files when present, else the release).
        resolution: ``"210x260px"`` (original frames) or ``"256x256px"`` (the resized tree).
        frames_root: override the ``fullFrame-*`` folder the frame paths are relative to.
        unk_policy: the vocabulary's unknown-gloss policy (see :class:`~slr_data.Vocabulary`).
        splits: which splits to read.
        with_frame_counts: release source only: count frames per video folder.
    """
    path = Path(path)
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {resolution!r}")
    if source not in ("auto", "info", "release"):
        raise ValueError(f"source must be 'auto', 'info' or 'release', got {source!r}")
    info_dir = _find_info_dir(path) if source in ("auto", "info") else None
    release = find_release_root(path) if source in ("auto", "release") or info_dir is None else None
    if info_dir is not None:
        return _load_from_info(info_dir, resolution, frames_root, unk_policy, splits, release)
    if release is not None:
        return _load_from_release(release, resolution, frames_root, unk_policy, splits, with_frame_counts)
    wanted = {"info": "train_info.npy + gloss_dict.npy", "release": "annotations/manual/train.corpus.csv"}
    raise FileNotFoundError(
        f"{path}: no PHOENIX-2014 corpus found (looked for "
        f"{wanted.get(source, ' or '.join(wanted.values()))})"
    )


def _swap_resolution(root: Path, resolution: str) -> Path:
    if root.name.startswith("fullFrame-") and root.name != f"fullFrame-{resolution}":
        return root.with_name(f"fullFrame-{resolution}")
    return root


def _load_from_info(info_dir, resolution, frames_root, unk_policy, splits, release) -> Corpus:
    vocab = Vocabulary.from_gloss_dict(info_dir / "gloss_dict.npy", unk_policy=unk_policy)
    records = {}
    for split in splits:
        info_path = info_dir / f"{split}_info.npy"
        if not info_path.is_file():
            continue
        info = load_info(info_path)
        root = Path(frames_root) if frames_root is not None else None
        if root is None:
            root = _swap_resolution(_root_from_prefix(info_path, info.get("prefix")), resolution)
            if not root.exists() and release is not None:
                root = release / "features" / f"fullFrame-{resolution}"
        records[split] = _records_from_info(info, info_path, split, root)
    stm = {s: info_dir / f"phoenix2014-groundtruth-{s}.stm" for s in splits}
    return Corpus("phoenix2014", records, vocab, info_dir, {s: p for s, p in stm.items() if p.is_file()})


def _load_from_release(release, resolution, frames_root, unk_policy, splits, with_frame_counts) -> Corpus:
    root = Path(frames_root) if frames_root is not None else release / "features" / f"fullFrame-{resolution}"
    records = {}
    for split in splits:
        csv_path = release / "annotations" / "manual" / f"{split}.corpus.csv"
        if csv_path.is_file():
            records[split] = read_corpus_csv(
                csv_path, split=split, frames_root=root, with_frame_counts=with_frame_counts
            )
    if "train" not in records:
        raise FileNotFoundError(
            f"{release}: the vocabulary is built from train, but train.corpus.csv is missing"
        )
    vocab = Vocabulary.from_sequences((r.glosses for r in records["train"]), unk_policy=unk_policy)
    stm = {s: release / "evaluation" / f"phoenix2014-groundtruth-{s}.stm" for s in splits}
    return Corpus("phoenix2014", records, vocab, release, {s: p for s, p in stm.items() if p.is_file()})
