"""Sum-reducible word error counts.

WER over a corpus is ``100 * (S + D + I) / N`` of the *summed* counts. Averaging per-utterance
or per-rank WERs weights short utterances (or small shards) too much, so everything in this
package adds counts and divides once at the end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Counts"]


@dataclass(frozen=True)
class Counts:
    """Word counts of one utterance or of many (they add).

    Attributes:
        N: reference words (``C + S + D``).
        C: correct words.
        S: substitutions.
        D: deletions (reference words the hypothesis misses).
        I: insertions (hypothesis words with no reference word).
        utterances: number of utterances summed.
        utterance_errors: utterances with at least one error (sclite's ``S.Err``).
    """

    N: int = 0
    C: int = 0
    S: int = 0
    D: int = 0
    I: int = 0  # noqa: E741 - sclite's name
    utterances: int = 0
    utterance_errors: int = 0

    FIELDS = ("N", "C", "S", "D", "I", "utterances", "utterance_errors")

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
        return Counts(*(a + b for a, b in zip(self.to_list(), other.to_list(), strict=True)))

    @classmethod
    def total(cls, items: Iterable[Counts]) -> Counts:
        """Sum of ``items`` (an empty sum is all zeros)."""
        acc = [0] * len(cls.FIELDS)
        for item in items:
            for k, v in enumerate(item.to_list()):
                acc[k] += v
        return cls(*acc)

    def to_list(self) -> list[int]:
        """``[N, C, S, D, I, utterances, utterance_errors]``: the vector to all-reduce."""
        return [self.N, self.C, self.S, self.D, self.I, self.utterances, self.utterance_errors]

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
