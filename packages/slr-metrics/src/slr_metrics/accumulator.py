"""Training-time WER: a sum-reducible accumulator.

Each process calls :meth:`WERAccumulator.update` per utterance; the counts it keeps are sums,
so shards combine with :meth:`WERAccumulator.merge` (same process) or by all-reducing
:meth:`WERAccumulator.state` (see :func:`slr_metrics.distributed.all_reduce_counts`). The
result equals scoring all utterances at once; averaging per-rank WERs would not.

Example::

    acc = WERAccumulator(protocol="phoenix2014")
    for utt_id, ref, hyp in batch_results:
        acc.update(utt_id, ref, hyp)
    print(acc.wer, acc.counts)
"""

from __future__ import annotations

from collections.abc import Sequence

from slr_metrics.counts import Counts
from slr_metrics.limits import Limits
from slr_metrics.protocols import Protocol, get_protocol
from slr_metrics.report import ScoreReport, UtteranceResult
from slr_metrics.scoring import WordKeys, score_normalized

__all__ = ["WERAccumulator"]


class WERAccumulator:
    """Accumulates word error counts utterance by utterance.

    Args:
        protocol: scoring protocol name (see :func:`slr_metrics.list_protocols`).
        levenshtein: use plain Levenshtein alignment instead of the protocol's aligner.
        case_sensitive: compare words case-sensitively.
        keep_utterances: also keep each utterance's alignment, for :meth:`report`.
        limits: bound on one utterance's alignment (``max_alignment_cells``, see
            :mod:`slr_metrics.limits`).

    Per utterance the counts equal those of :func:`slr_metrics.score` /
    :func:`slr_metrics.score_files` with the same protocol.
    """

    def __init__(
        self,
        protocol: str | Protocol = "none",
        *,
        levenshtein: bool = False,
        case_sensitive: bool = False,
        keep_utterances: bool = False,
        limits: Limits | None = None,
    ) -> None:
        self.protocol = get_protocol(protocol)
        self.aligner = "levenshtein" if levenshtein else self.protocol.aligner
        self.case_sensitive = case_sensitive
        self.keep_utterances = keep_utterances
        self.limits = limits
        self._keys = WordKeys(self.aligner, case_sensitive)
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated."""
        self._totals = [0] * len(Counts.FIELDS)
        self._seen: set[str] = set()
        self._results: list[UtteranceResult] = []

    def update(self, utt_id: str, ref_words: Sequence[str], hyp_words: Sequence[str]) -> Counts:
        """Score one utterance and add its counts; returns that utterance's counts.

        Raises:
            ValueError: if ``utt_id`` was already added (a duplicated sample would be counted twice).
            ScoringError: (a ValueError) if the utterance is over ``limits``.
        """
        if utt_id in self._seen:
            raise ValueError(f"utterance {utt_id!r} was already added to this accumulator")
        ref = self.protocol.normalize_ref(ref_words)
        hyp = self.protocol.normalize_hyp(hyp_words)
        report = score_normalized(
            {utt_id: ref},
            {utt_id: hyp},
            protocol=self.protocol,
            aligner=self.aligner,
            case_sensitive=self.case_sensitive,
            keys=self._keys,
            limits=self.limits,
        )
        result = report.utterances[0]
        self._seen.add(utt_id)
        for k, v in enumerate(result.counts.to_list()):
            self._totals[k] += v
        if self.keep_utterances:
            self._results.append(result)
        return result.counts

    def merge(self, other: WERAccumulator) -> WERAccumulator:
        """Add ``other``'s counts (and kept utterances) into this accumulator; returns ``self``.

        Raises:
            ValueError: if the settings differ or both hold the same utterance id.
        """
        mine = (self.protocol.name, self.aligner, self.case_sensitive)
        theirs = (other.protocol.name, other.aligner, other.case_sensitive)
        if mine != theirs:
            raise ValueError(f"cannot merge accumulators with different settings {mine} and {theirs}")
        overlap = self._seen & other._seen
        if overlap:
            raise ValueError(f"both accumulators hold utterance(s) {sorted(overlap)[:5]}")
        for k, v in enumerate(other._totals):
            self._totals[k] += v
        self._seen |= other._seen
        self._results.extend(other._results)
        return self

    @property
    def counts(self) -> Counts:
        """Summed counts (``N, C, S, D, I``, utterances, utterances with errors)."""
        return Counts(*self._totals)

    @property
    def wer(self) -> float:
        """WER in percent from the summed counts; NaN before any reference word was added
        (``N == 0``, see :attr:`Counts.wer`)."""
        return self.counts.wer

    def state(self) -> list[int]:
        """Counts as a 7-number vector ``[N, C, S, D, I, utterances, utterance_errors]``.

        Sum these vectors across processes (e.g. ``torch.distributed.all_reduce`` with
        ``SUM``) and pass the result to :meth:`load_state` or :meth:`Counts.from_list`.
        """
        return list(self._totals)

    def load_state(self, values: Sequence[int | float]) -> None:
        """Replace the counts by a (possibly all-reduced) :meth:`state` vector.

        Utterance ids and kept alignments are dropped: they are not part of the vector.
        """
        self._totals = Counts.from_list(values).to_list()
        self._seen = set()
        self._results = []

    def report(self) -> ScoreReport:
        """A :class:`ScoreReport` of the kept utterances (needs ``keep_utterances=True``)."""
        if not self.keep_utterances:
            raise ValueError("construct the accumulator with keep_utterances=True to get a report")
        return ScoreReport(
            utterances=tuple(self._results),
            protocol=self.protocol.name,
            aligner=self.aligner,
            case_sensitive=self._keys.case_sensitive,
        )
