"""Gloss vocabulary: gloss <-> integer id, with the CTC blank at id 0.

Ids follow the PHOENIX ``gloss_dict.npy`` convention (VAC preprocessing): glosses sorted by
Python string order get ids ``1..N``; ``0`` is the CTC blank. With ``unk_policy="unk"`` an extra
``<unk>`` class gets id ``N + 1``, so the ids of real glosses never move.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from slr_data._atomic import atomic_save_npy, atomic_write_text
from slr_data.errors import DataFormatError, UnknownGlossError
from slr_data.safe_pickle import load_info
from slr_data.textio import read_text_lines

__all__ = ["Vocabulary", "BLANK", "UNK", "UNK_POLICIES"]

BLANK = "<blank>"
UNK = "<unk>"
UNK_POLICIES = ("error", "unk")
_FORMAT = "slr-vocabulary"
_FORMAT_VERSION = 1


class Vocabulary:
    """Bidirectional gloss/id map. ``len(vocab) == V`` counts the blank (and ``<unk>`` if used).

    Args:
        glosses: the real glosses in id order; gloss ``glosses[i]`` gets id ``i + 1``.
        counts: optional occurrence counts, same order (kept for ``gloss_dict.npy`` round trips).
        unk_policy: what :meth:`encode` does with a gloss it does not know: ``"error"`` (default)
            raises :class:`~slr_data.errors.UnknownGlossError`; ``"unk"`` maps it to ``<unk>``.
    """

    blank_id = 0

    def __init__(
        self, glosses: Sequence[str], *, counts: Sequence[int] | None = None, unk_policy: str = "error"
    ):
        glosses = tuple(glosses)
        if unk_policy not in UNK_POLICIES:
            raise ValueError(f"unk_policy must be one of {UNK_POLICIES}, got {unk_policy!r}")
        for gloss in glosses:
            if not isinstance(gloss, str) or not gloss or any(ch.isspace() for ch in gloss):
                raise ValueError(f"a gloss must be a non-empty string without whitespace, got {gloss!r}")
        duplicates = [g for g, n in Counter(glosses).items() if n > 1]
        if duplicates:
            raise ValueError(f"duplicate glosses in vocabulary: {duplicates[:10]}")
        reserved = {BLANK, UNK} & set(glosses)
        if reserved:
            raise ValueError(f"{sorted(reserved)} are reserved names and cannot be glosses")
        if counts is not None:
            counts = tuple(int(c) for c in counts)
            if len(counts) != len(glosses):
                raise ValueError(f"{len(counts)} counts for {len(glosses)} glosses")
        self._glosses = glosses
        self._counts = counts
        self.unk_policy = unk_policy
        self._ids = {gloss: i + 1 for i, gloss in enumerate(glosses)}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_sequences(cls, sequences: Iterable[Sequence[str]], *, unk_policy: str = "error") -> Vocabulary:
        """Vocabulary of every gloss in ``sequences``, sorted as VAC does, with counts."""
        counter: Counter[str] = Counter()
        for sequence in sequences:
            counter.update(sequence)
        glosses = sorted(counter)
        return cls(glosses, counts=[counter[g] for g in glosses], unk_policy=unk_policy)

    @classmethod
    def from_gloss_dict(cls, path: str | os.PathLike, *, unk_policy: str = "error") -> Vocabulary:
        """Read a PHOENIX / VAC ``gloss_dict.npy`` (``{gloss: [id, count]}``, ids ``1..N``)."""
        raw = load_info(path)
        return cls.from_gloss_mapping(raw, unk_policy=unk_policy, source=path)

    @classmethod
    def from_gloss_mapping(
        cls, mapping: Mapping, *, unk_policy: str = "error", source="<mapping>"
    ) -> Vocabulary:
        """Build from ``{gloss: id}`` or ``{gloss: [id, count]}`` with ids exactly ``1..N``."""
        by_id: dict[int, tuple[str, int | None]] = {}
        for gloss, value in mapping.items():
            if isinstance(value, (list, tuple)) and len(value) >= 1:
                index, count = value[0], (value[1] if len(value) > 1 else None)
            else:
                index, count = value, None
            if not isinstance(gloss, str) or isinstance(index, bool) or not isinstance(index, int):
                raise DataFormatError(
                    f"expected str -> [int id, int count], got {gloss!r} -> {value!r}", source
                )
            if index in by_id:
                raise DataFormatError(f"id {index} is used by both {by_id[index][0]!r} and {gloss!r}", source)
            by_id[index] = (gloss, count)
        if sorted(by_id) != list(range(1, len(by_id) + 1)):
            raise DataFormatError(f"gloss ids must be exactly 1..{len(by_id)} (0 is the CTC blank)", source)
        ordered = [by_id[i] for i in range(1, len(by_id) + 1)]
        counts = [c for _, c in ordered]
        try:
            return cls(
                [g for g, _ in ordered],
                counts=None if any(c is None for c in counts) else counts,
                unk_policy=unk_policy,
            )
        except ValueError as exc:
            raise DataFormatError(str(exc), source) from exc

    # ------------------------------------------------------------------ properties
    @property
    def glosses(self) -> tuple[str, ...]:
        """The real glosses in id order (id ``i + 1`` for ``glosses[i]``)."""
        return self._glosses

    @property
    def counts(self) -> tuple[int, ...] | None:
        return self._counts

    @property
    def unk_id(self) -> int | None:
        """Id of ``<unk>`` (``len(glosses) + 1``) under ``unk_policy="unk"``, else ``None``."""
        return len(self._glosses) + 1 if self.unk_policy == "unk" else None

    @property
    def num_classes(self) -> int:
        """``V``: blank + glosses (+ ``<unk>``); the CTC head's output size."""
        return len(self)

    def __len__(self) -> int:
        return 1 + len(self._glosses) + (1 if self.unk_policy == "unk" else 0)

    def __contains__(self, gloss: object) -> bool:
        return gloss in self._ids

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return self._glosses == other._glosses and self.unk_policy == other.unk_policy

    def __hash__(self) -> int:
        return hash((self._glosses, self.unk_policy))

    def __repr__(self) -> str:
        return f"Vocabulary({len(self._glosses)} glosses, V={len(self)}, unk_policy={self.unk_policy!r})"

    # ------------------------------------------------------------------ mapping
    def gloss_to_id(self, gloss: str) -> int:
        return self.encode([gloss])[0]

    def id_to_gloss(self, index: int) -> str:
        if index == 0:
            return BLANK
        if 1 <= index <= len(self._glosses):
            return self._glosses[index - 1]
        if index == self.unk_id:
            return UNK
        raise IndexError(f"id {index} is outside the vocabulary (V={len(self)})")

    def encode(self, glosses: Sequence[str], *, context: str | None = None) -> list[int]:
        """Glosses -> ids. Unknown glosses follow ``unk_policy``; ``context`` names the source in errors."""
        ids = []
        unknown = []
        for gloss in glosses:
            index = self._ids.get(gloss)
            if index is None:
                if self.unk_policy == "unk":
                    index = self.unk_id
                else:
                    unknown.append(gloss)
                    continue
            ids.append(index)
        if unknown:
            raise UnknownGlossError(unknown=unknown, context=context)
        return ids

    def decode(self, ids: Iterable[int], *, skip_blank: bool = True) -> list[str]:
        """Ids -> glosses; blanks are dropped unless ``skip_blank=False`` (then ``'<blank>'``)."""
        out = []
        for index in ids:
            index = int(index)
            if index == 0 and skip_blank:
                continue
            out.append(self.id_to_gloss(index))
        return out

    def count_unknown(self, glosses: Iterable[str]) -> int:
        """Number of glosses in ``glosses`` that are not in the vocabulary."""
        return sum(1 for gloss in glosses if gloss not in self._ids)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        """JSON-serialisable form (what :meth:`save` writes)."""
        return {
            "format": _FORMAT,
            "version": _FORMAT_VERSION,
            "blank_id": 0,
            "unk_policy": self.unk_policy,
            "glosses": list(self._glosses),
            "counts": None if self._counts is None else list(self._counts),
        }

    @classmethod
    def from_dict(cls, data: Mapping, *, source="<dict>") -> Vocabulary:
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise DataFormatError(f'not an slr vocabulary (missing "format": "{_FORMAT}")', source)
        if data.get("version") != _FORMAT_VERSION:
            raise DataFormatError(f"unsupported vocabulary version {data.get('version')!r}", source)
        try:
            return cls(data["glosses"], counts=data.get("counts"), unk_policy=data.get("unk_policy", "error"))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataFormatError(f"invalid vocabulary: {exc}", source) from exc

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary as JSON, atomically."""
        return atomic_write_text(path, json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        """Read a vocabulary written by :meth:`save`."""
        text = "\n".join(read_text_lines(path))  # bounded line length and count; UTF-8 checked
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"invalid JSON: {exc.msg}", path, line=exc.lineno) from exc
        return cls.from_dict(data, source=path)

    def to_gloss_dict(self) -> dict[str, list[int]]:
        """``{gloss: [id, count]}`` as in PHOENIX ``gloss_dict.npy`` (count 0 when unknown)."""
        counts = self._counts or (0,) * len(self._glosses)
        return {gloss: [i + 1, counts[i]] for i, gloss in enumerate(self._glosses)}

    def save_gloss_dict(self, path: str | os.PathLike) -> Path:
        """Write a VAC-compatible ``gloss_dict.npy`` atomically."""
        return atomic_save_npy(path, self.to_gloss_dict())
