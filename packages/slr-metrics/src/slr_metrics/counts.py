"""Sum-reducible word error counts.

WER over a corpus is ``100 * (S + D + I) / N`` of the *summed* counts. Averaging per-utterance
or per-rank WERs weights short utterances (or small shards) too much, so everything in this
package adds counts and divides once at the end.

The record types of this package (:class:`Counts`, :class:`~slr_metrics.STMSegment`, ...) are
immutable named tuples rather than dataclasses: ``slr-score`` would otherwise spend longer
importing :mod:`dataclasses` (and :mod:`inspect`) than scoring a test set.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Iterable, Sequence

__all__ = ["Counts"]

_FIELDS = ("N", "C", "S", "D", "I", "utterances", "utterance_errors")


class Counts(namedtuple("Counts", _FIELDS, defaults=(0,) * len(_FIELDS))):
    """Word counts of one utterance or of many (they add); an immutable named tuple.

    Attributes:
        N: reference words (``C + S + D``).
        C: correct words.
        S: substitutions.
        D: deletions (reference words the hypothesis misses).
        I: insertions (hypothesis words with no reference word).
        utterances: number of utterances summed.
        utterance_errors: utterances with at least one error (sclite's ``S.Err``).
    """

    __slots__ = ()
    FIELDS = _FIELDS

    @classmethod
    def from_edits(cls, edits: str) -> Counts:
        """Counts of one utterance from its edit string (``C``/``S``/``D``/``I`` per column)."""
        c, s, d, i = edits.count("C"), edits.count("S"), edits.count("D"), edits.count("I")
        return cls(c + s + d, c, s, d, i, 1, 1 if s + d + i else 0)

    @property
    def errors(self) -> int:
        """``S + D + I``."""
        return self.S + self.D + self.I

    @property
    def wer(self) -> float:
        """Word error rate in percent, ``100 * errors / N``.

        With ``N == 0`` it is undefined: NaN when there are no errors (0 / 0) and ``inf``
        otherwise, never 0.0 (sclite prints 0.0 % there). Test with ``math.isfinite``.
        """
        if self.N == 0:
            return float("nan") if self.errors == 0 else float("inf")
        return 100.0 * self.errors / self.N

    def __add__(self, other: Counts) -> Counts:
        if not isinstance(other, Counts):
            return NotImplemented
        return Counts(*(a + b for a, b in zip(self, other, strict=True)))

    @classmethod
    def total(cls, items: Iterable[Counts]) -> Counts:
        """Sum of ``items`` (an empty sum is all zeros)."""
        return cls(*map(sum, zip(*items)))  # no items: zip() is empty and all counts are 0

    def to_list(self) -> list[int]:
        """``[N, C, S, D, I, utterances, utterance_errors]``: the vector to all-reduce."""
        return list(self)

    @classmethod
    def from_list(cls, values: Sequence[int | float]) -> Counts:
        """Inverse of :meth:`to_list`; accepts any 7 numbers that are whole (e.g. a float tensor's list)."""
        if len(values) != len(cls.FIELDS):
            raise ValueError(f"expected {len(cls.FIELDS)} values {cls.FIELDS}, got {len(values)}")
        ints = []
        for name, value in zip(cls.FIELDS, values, strict=True):
            as_int = int(value)
            if as_int != value or as_int < 0:
                raise ValueError(f"count {name}={value!r} is not a non-negative whole number")
            ints.append(as_int)
        counts = cls(*ints)
        if counts.N != counts.C + counts.S + counts.D:
            raise ValueError(f"inconsistent counts: N={counts.N} but C+S+D={counts.C + counts.S + counts.D}")
        return counts

    def to_dict(self) -> dict[str, int | float | None]:
        """JSON-ready dict with the counts and ``wer`` (``None`` when it is undefined, ``N == 0``)."""
        wer = self.wer
        out: dict[str, int | float | None] = dict(zip(self.FIELDS, self.to_list(), strict=True))
        out["wer"] = wer if math.isfinite(wer) else None
        return out
