"""Scoring: protocol normalisation, word keys, alignment, counts.

``score`` scores in-memory ``{utt_id: words}`` dicts; ``score_files`` reads an STM reference and
a CTM (or plain) hypothesis file and does what ``slr-score`` does. On the same data both give the
same counts, which equal sclite's (``protocol="none"``) or the official scripts' followed by
sclite (``phoenix2014``, ``phoenix2014t``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from slr_metrics.align import ALIGNERS
from slr_metrics.counts import Counts
from slr_metrics.ctm import read_ctm_words, read_hyp
from slr_metrics.errors import FormatError, ScoringError
from slr_metrics.fileio import iter_lines
from slr_metrics.protocols import Protocol, get_protocol
from slr_metrics.report import ScoreReport, UtteranceResult
from slr_metrics.stm import read_stm
from slr_metrics.text import check_supported, comparison_key, fold_ascii, split_ws

__all__ = ["score", "score_files", "score_normalized", "WordKeys", "detect_hyp_format"]

_LIST_AT_MOST = 10


class WordKeys:
    """Maps words to small integers so that equal integers mean "the same word" for an aligner.

    ``sclite``: sclite's token reading (:func:`slr_metrics.text.sclite_word`) and, unless
    ``case_sensitive``, ASCII case folding; unsupported sclite syntax raises
    :class:`FormatError`. ``levenshtein``: case folding only. ``slrt``: exact strings (SLRT
    compares with ``==``).
    """

    def __init__(self, aligner: str, case_sensitive: bool) -> None:
        if aligner not in ALIGNERS:
            raise ValueError(f"unknown aligner {aligner!r}; choose one of {sorted(ALIGNERS)}")
        self.aligner = aligner
        self.case_sensitive = case_sensitive or aligner == "slrt"
        self._ids: dict[str, int] = {}
        self._keys: dict[str, int] = {}

    def encode(self, words: Sequence[str], where: str) -> list[int]:
        """Integer keys of ``words``; ``where`` names the utterance in error messages."""
        ids = self._ids
        out = []
        for word in words:
            code = ids.get(word)
            if code is None:
                code = self._new(word, where)
            out.append(code)
        return out

    def _new(self, word: str, where: str) -> int:
        sclite = self.aligner == "sclite"
        if sclite:
            check_supported(word, where)
        key = comparison_key(word, sclite=sclite, case_sensitive=self.case_sensitive)
        code = self._keys.setdefault(key, len(self._keys))
        self._ids[word] = code
        return code


def _resolve_ids(
    refs: Mapping[str, object], hyp_ids: Sequence[str], fold_ids: bool, source: str
) -> dict[str, str]:
    """Map each hypothesis id to its reference id; raise ScoringError naming unknown ids."""
    mapping: dict[str, str] = {}
    folded: dict[str, str] | None = None
    used: set[str] = set()
    unknown: list[str] = []
    for hid in hyp_ids:
        if hid in refs and hid not in used:
            mapping[hid] = hid
            used.add(hid)
            continue
        if fold_ids:
            if folded is None:
                folded = {}
                for rid in refs:
                    folded.setdefault(fold_ascii(rid), rid)
            rid = folded.get(fold_ascii(hid))
            if rid is not None and rid not in used:
                mapping[hid] = rid
                used.add(rid)
                continue
        unknown.append(hid)
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:_LIST_AT_MOST])
        more = f" and {len(unknown) - _LIST_AT_MOST} more" if len(unknown) > _LIST_AT_MOST else ""
        raise ScoringError(
            f"{len(unknown)} hypothesis utterance id(s) {source}are not in the reference: {shown}{more} "
            "(sclite fails on such input too)"
        )
    return mapping


def score_normalized(
    refs: Mapping[str, Sequence[str]],
    hyps: Mapping[str, Sequence[str]],
    *,
    protocol: Protocol,
    aligner: str,
    case_sensitive: bool = False,
    speakers: Mapping[str, str] | None = None,
    keys: WordKeys | None = None,
    source: str | None = None,
) -> ScoreReport:
    """Align words that are already normalised (no protocol rules applied here).

    Every reference utterance is scored, in ``refs`` order; one missing from ``hyps`` is scored
    against ``protocol.normalize_hyp([])``. Hypothesis ids must be reference ids. ``source``
    (e.g. the file names) is added to error messages.
    """
    _resolve_ids(refs, list(hyps), False, "")
    keys = keys or WordKeys(aligner, case_sensitive)
    align = ALIGNERS[aligner]
    missing = protocol.normalize_hyp([])
    results = []
    for uid, ref_words in refs.items():
        hyp_words = hyps.get(uid)
        if hyp_words is None:
            hyp_words = missing
        where = f"utterance {uid!r}" + (f" ({source})" if source else "")
        edits = align(keys.encode(ref_words, where), keys.encode(hyp_words, where))
        speaker = speakers.get(uid, "-") if speakers is not None else "-"
        results.append(
            UtteranceResult(uid, speaker, tuple(ref_words), tuple(hyp_words), edits, Counts.from_edits(edits))
        )
    return ScoreReport(
        utterances=tuple(results),
        protocol=protocol.name,
        aligner=aligner,
        case_sensitive=keys.case_sensitive,
    )


def score(
    refs: Mapping[str, Sequence[str]],
    hyps: Mapping[str, Sequence[str]],
    protocol: str | Protocol = "none",
    levenshtein: bool = False,
    *,
    case_sensitive: bool = False,
    speakers: Mapping[str, str] | None = None,
) -> ScoreReport:
    """Score hypotheses against references.

    Args:
        refs: utterance id -> reference words; every utterance is scored.
        hyps: utterance id -> hypothesis words; a missing id counts like an empty hypothesis
            (all deletions, or ``[EMPTY]`` under the PHOENIX protocols).
        protocol: name from :func:`slr_metrics.list_protocols` (or a :class:`Protocol`).
        levenshtein: align with plain Levenshtein (minimum edits, jiwer's breakdown) instead of
            the protocol's aligner (sclite's weighted alignment by default).
        case_sensitive: compare words case-sensitively (sclite folds ``A-Z`` by default).
        speakers: utterance id -> speaker, for the per-speaker breakdown.

    Raises:
        ScoringError: a hypothesis id is not a reference id.
        FormatError: a word uses sclite syntax that is not supported (``@``, ``{``...).
    """
    proto = get_protocol(protocol)
    _resolve_ids(refs, list(hyps), False, "")
    norm_refs = {uid: proto.normalize_ref(words) for uid, words in refs.items()}
    norm_hyps = {uid: proto.normalize_hyp(words) for uid, words in hyps.items()}
    aligner = "levenshtein" if levenshtein else proto.aligner
    return score_normalized(
        norm_refs,
        norm_hyps,
        protocol=proto,
        aligner=aligner,
        case_sensitive=case_sensitive,
        speakers=speakers,
    )


def detect_hyp_format(path: str | os.PathLike[str]) -> str:
    """``"ctm"`` or ``"hyp"``: by extension (``.ctm``), else by the first data line's shape.

    A line with 5 or 6 fields whose third and fourth fields are numbers is CTM.
    """
    if os.fspath(path).lower().endswith(".ctm"):
        return "ctm"
    for _, text in iter_lines(path):
        if text.startswith(";"):
            continue
        fields = split_ws(text)
        if not fields:
            continue
        if len(fields) in (5, 6):
            try:
                float(fields[2])
                float(fields[3])
                return "ctm"
            except ValueError:
                pass
        return "hyp"
    return "ctm"


def score_files(
    ref_path: str | os.PathLike[str],
    hyp_path: str | os.PathLike[str],
    protocol: str | Protocol = "none",
    levenshtein: bool = False,
    *,
    hyp_format: str = "auto",
    case_sensitive: bool = False,
) -> ScoreReport:
    """Score a hypothesis file against an STM reference file (what ``slr-score`` does).

    Args:
        ref_path: STM file (:func:`slr_metrics.read_stm`).
        hyp_path: CTM file, or plain ``<id> <words...>`` lines.
        protocol, levenshtein, case_sensitive: as for :func:`score`.
        hyp_format: ``"ctm"``, ``"hyp"`` or ``"auto"`` (:func:`detect_hyp_format`).

    Hypothesis ids are matched to reference ids case-insensitively unless ``case_sensitive``
    (sclite lower-cases ids). CTM words are taken in file order, or in the order the protocol's
    official script sorts them.

    Raises:
        FormatError: malformed file (message names file and line).
        ScoringError: hypothesis ids absent from the reference (message names them).
    """
    proto = get_protocol(protocol)
    segments = read_stm(ref_path)
    refs = {seg.utt_id: proto.normalize_ref(seg.words) for seg in segments}
    speakers = {seg.utt_id: seg.speaker for seg in segments}
    channels = {seg.utt_id: seg.channel for seg in segments}

    fmt = detect_hyp_format(hyp_path) if hyp_format == "auto" else hyp_format
    if fmt == "ctm":
        words = read_ctm_words(hyp_path)
        raw_hyps = proto.ctm_hyps(words, hyp_path)
        hyp_channel = {}
        for word in words:
            hyp_channel.setdefault(word.utt_id, (word.channel, word.line))
    elif fmt == "hyp":
        raw_hyps = {uid: proto.normalize_hyp(w) for uid, w in read_hyp(hyp_path).items()}
        hyp_channel = {}
    else:
        raise ValueError(f"unknown hypothesis format {hyp_format!r}; use 'ctm', 'hyp' or 'auto'")

    source = f"in {os.fspath(hyp_path)} "
    mapping = _resolve_ids(refs, list(raw_hyps), not case_sensitive, source)
    hyps: dict[str, list[str]] = {}
    for hid, words_ in raw_hyps.items():
        rid = mapping[hid]
        if hid in hyp_channel:
            channel, line = hyp_channel[hid]
            if fold_ascii(channel) != fold_ascii(channels[rid]):
                raise FormatError(
                    f"channel {channel!r} of utterance {hid!r} differs from the reference channel "
                    f"{channels[rid]!r}",
                    hyp_path,
                    line,
                )
        hyps[rid] = words_
    aligner = "levenshtein" if levenshtein else proto.aligner
    report = score_normalized(
        refs,
        hyps,
        protocol=proto,
        aligner=aligner,
        case_sensitive=case_sensitive,
        speakers=speakers,
        source=f"{os.fspath(ref_path)} / {os.fspath(hyp_path)}",
    )
    return report.with_sources(os.fspath(ref_path), os.fspath(hyp_path))
