"""Corpus records: one :class:`VideoRecord` per annotated video, grouped in a :class:`Corpus`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from slr_data.errors import short_repr
from slr_data.frames import list_frame_files
from slr_data.limits import DataLimits
from slr_data.vocabulary import Vocabulary

__all__ = ["VideoRecord", "Corpus", "SPLITS", "relative_parts", "resolve_under"]

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class VideoRecord:
    """One annotated video.

    Attributes:
        video_id: corpus id (PHOENIX ``id`` / ``fileid`` / 2014-T ``name``).
        split: ``"train"``, ``"dev"`` or ``"test"``.
        signer: signer id, e.g. ``"Signer04"``.
        glosses: the gloss sequence (annotation split on whitespace).
        num_frames: frames in the folder as recorded in the metadata (``None`` when unknown).
        frame_dir: folder holding the frame images.
        frame_pattern: glob of the frame files inside ``frame_dir`` (``"*.png"``).
        annotation: the label text exactly as in the source file (may hold double spaces).
        translation: spoken-language sentence (PHOENIX-2014-T only).
        source: where the record came from (file and line / entry), for error messages.
    """

    video_id: str
    split: str
    signer: str
    glosses: tuple[str, ...]
    num_frames: int | None
    frame_dir: Path
    frame_pattern: str = "*.png"
    annotation: str = ""
    translation: str | None = None
    source: str = ""

    def frame_paths(self, limits: DataLimits | None = None) -> list[Path]:
        """The frame files, naturally sorted; raises :class:`~slr_data.errors.FrameReadError`
        (also for more than ``limits.max_video_frames`` files)."""
        return list_frame_files(self.frame_dir, self.frame_pattern, limits=limits)


@dataclass(frozen=True)
class Corpus:
    """A loaded corpus: records per split, the gloss vocabulary and ground-truth STM files.

    Attributes:
        name: ``"phoenix2014"`` or ``"phoenix2014t"``.
        splits: ``{"train": [...], "dev": [...], "test": [...]}`` (a missing split is absent).
        vocab: the gloss vocabulary (from ``gloss_dict.npy`` or built from train).
        root: the folder the corpus was read from.
        stm: ground-truth STM path per split, where the corpus ships one.
    """

    name: str
    splits: dict[str, list[VideoRecord]]
    vocab: Vocabulary
    root: Path
    stm: dict[str, Path] = field(default_factory=dict)

    def __getitem__(self, split: str) -> list[VideoRecord]:
        try:
            return self.splits[split]
        except KeyError:
            raise KeyError(
                f"{self.root}: corpus {self.name!r} has no split {split!r} (has {sorted(self.splits)})"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.splits)

    def summary(self) -> str:
        """One line per split: videos, signers, frames, glosses."""
        lines = [f"{self.name} at {self.root}: V={len(self.vocab)} (glosses {len(self.vocab.glosses)})"]
        for split, records in self.splits.items():
            frames = [r.num_frames for r in records if r.num_frames is not None]
            n_gloss = sum(len(r.glosses) for r in records)
            signers = len({r.signer for r in records})
            mean = sum(frames) / len(frames) if frames else float("nan")
            lines.append(
                f"  {split}: {len(records)} videos, {signers} signers, "
                f"{mean:.1f} frames/video, {n_gloss} gloss tokens"
            )
        return "\n".join(lines)


def relative_parts(relative: str) -> list[str]:
    """The parts of a relative path from a metadata file (``/`` or ``\\`` separated), normalised.

    Empty and ``.`` parts are dropped, so a leading ``/`` is re-rooted; ``..`` cancels the part
    before it and may not climb above the root.

    Raises:
        ValueError: the path climbs out of its root, or holds a NUL character.
    """
    if "\x00" in relative:
        raise ValueError(f"path {short_repr(relative)} holds a NUL character")
    parts: list[str] = []
    for part in relative.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise ValueError(f"path {short_repr(relative)} leads outside the frames root ('..')")
            parts.pop()
        else:
            parts.append(part)
    return parts


def resolve_under(root: Path, relative: str) -> Path:
    """``root / relative`` for a relative path from a metadata file, never outside ``root``.

    Raises:
        ValueError: ``relative`` climbs out of ``root`` (see :func:`relative_parts`).
    """
    return Path(root).joinpath(*relative_parts(relative))


def count_frames(folder: Path, pattern: str) -> int | None:
    """Number of frame files in ``folder`` (``None`` when the folder does not exist or cannot be
    read, or holds more frames than a video may: loading that video then names the problem)."""
    try:
        return len(list_frame_files(folder, pattern))
    except OSError:
        return None


def display(path: os.PathLike | str, line: int | None = None, entry=None) -> str:
    text = os.fspath(path)
    if line is not None:
        text += f":{line}"
    if entry is not None:
        text += f"[{entry!r}]"
    return text
