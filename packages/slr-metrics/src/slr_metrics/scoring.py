"""Scoring: protocol normalisation, word keys, alignment, counts.

``score`` scores in-memory ``{utt_id: words}`` dicts; ``score_files`` reads an STM reference and
a CTM (or plain) hypothesis file and does what ``slr-score`` does. On the same data both give the
same counts, which equal sclite's (``protocol="none"``) or the official scripts' followed by
sclite (``phoenix2014``, ``phoenix2014t``).
"""

from __future__ import annotations

import itertools
import os
from operator import itemgetter
from collections.abc import Iterable, Iterator, Mapping, Sequence

from slr_metrics.align import ALIGNERS
from slr_metrics.counts import Counts
from slr_metrics.ctm import parse_ctm_lines, parse_hyp_lines
from slr_metrics.errors import FormatError, ScoringError
from slr_metrics.fileio import iter_lines
from slr_metrics.limits import DEFAULT_LIMITS, Limits
from slr_metrics.protocols import Protocol, get_protocol
from slr_metrics.report import ScoreReport, UtteranceResult
from slr_metrics.stm import read_stm
from slr_metrics.text import check_supported, comparison_key, fold_ascii, split_ws

__all__ = [
    "check_reference_words",
    "detect_hyp_format",
    "score",
    "score_files",
    "score_normalized",
    "WordKeys",
]

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
        out = list(map(self._ids.get, words))
        if None in out:  # words not seen before
            for k, word in enumerate(words):
                if out[k] is None:
                    out[k] = self._ids.get(word)
                    if out[k] is None:
                        out[k] = self._new(word, where)
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


def _where(uid: str, source: str | None) -> str:
    """How error messages name an utterance."""
    return f"utterance {uid!r}" + (f" ({source})" if source else "")


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
    limits: Limits | None = None,
) -> ScoreReport:
    """Align words that are already normalised (no protocol rules applied here).

    Every reference utterance is scored, in ``refs`` order; one missing from ``hyps`` is scored
    against ``protocol.normalize_hyp([])``. Hypothesis ids must be reference ids. ``source``
    (e.g. the file names) is added to error messages. An empty ``refs`` is allowed here (see
    :func:`score` for the check).

    Raises:
        ScoringError: an unknown hypothesis id, or an utterance whose ``len(ref) * len(hyp)``
            exceeds ``limits.max_alignment_cells``.
    """
    if not refs.keys() >= hyps.keys():
        _resolve_ids(refs, list(hyps), False, "")  # raises, naming the unknown ids
    keys = keys or WordKeys(aligner, case_sensitive)
    known = keys._ids.get
    align = ALIGNERS[aligner]
    max_cells = (limits or DEFAULT_LIMITS).max_alignment_cells
    missing = protocol.normalize_hyp([])
    speakers = {} if speakers is None else speakers
    results = []
    for uid, ref_words in refs.items():
        hyp_words = hyps.get(uid)
        if hyp_words is None:
            hyp_words = missing
        if len(ref_words) * len(hyp_words) > max_cells:
            raise ScoringError(
                f"{_where(uid, source)}: aligning {len(ref_words)} reference with {len(hyp_words)} "
                f"hypothesis words needs {len(ref_words) * len(hyp_words)} cells, more than the limit "
                f"of {max_cells} (max_alignment_cells)"
            )
        ref_keys = list(map(known, ref_words))
        hyp_keys = list(map(known, hyp_words))
        if None in ref_keys or None in hyp_keys:  # words not seen before: checked and added
            ref_keys = keys.encode(ref_words, _where(uid, source))
            hyp_keys = keys.encode(hyp_words, _where(uid, source))
        edits = align(ref_keys, hyp_keys)
        counts = Counts.from_edits(edits)
        results.append(
            UtteranceResult(uid, speakers.get(uid, "-"), tuple(ref_words), tuple(hyp_words), edits, counts)
        )
    return ScoreReport(
        utterances=tuple(results),
        protocol=protocol.name,
        aligner=aligner,
        case_sensitive=keys.case_sensitive,
    )


def check_reference_words(
    raw: Mapping[str, Sequence[str]], normalized: Mapping[str, Sequence[str]], protocol: Protocol, where: str
) -> None:
    """Raise :class:`ScoringError` when the references hold no words at all (``N = 0``).

    WER is ``errors / N``, undefined for ``N = 0``; sclite prints 0.0 % there (its ``pct``
    macro returns 0 for a zero denominator), which hides an empty or wrong reference file.
    ``where`` prefixes the message (e.g. ``"ref.stm: "``).
    """
    if any(normalized.values()):
        return
    n = len(raw)
    if n == 0:
        detail = "the reference has no utterances"
    elif not any(raw.values()):
        detail = f"the reference's {n} utterance(s) hold no words"
    else:
        detail = f"no reference words are left after the {protocol.name} protocol's rules ({n} utterance(s))"
    raise ScoringError(f"{where}{detail}: WER is undefined (N = 0)")


def score(
    refs: Mapping[str, Sequence[str]],
    hyps: Mapping[str, Sequence[str]],
    protocol: str | Protocol = "none",
    levenshtein: bool = False,
    *,
    case_sensitive: bool = False,
    speakers: Mapping[str, str] | None = None,
    allow_empty_reference: bool = False,
    limits: Limits | None = None,
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
        allow_empty_reference: score references without any word (after the protocol) instead
            of raising; the report's ``wer`` is then NaN (no errors) or ``inf`` (insertions),
            never sclite's 0.0.
        limits: bound on one utterance's alignment (``max_alignment_cells``, see
            :mod:`slr_metrics.limits`).

    Raises:
        ScoringError: a hypothesis id is not a reference id, the references hold no words
            (unless ``allow_empty_reference``), or an utterance is over ``limits``.
        FormatError: a word uses sclite syntax that is not supported (``@``, ``{``...).
    """
    proto = get_protocol(protocol)
    _resolve_ids(refs, list(hyps), False, "")
    norm_refs = {uid: proto.normalize_ref(words) for uid, words in refs.items()}
    if not allow_empty_reference:
        check_reference_words(refs, norm_refs, proto, "")
    norm_hyps = {uid: proto.normalize_hyp(words) for uid, words in hyps.items()}
    aligner = "levenshtein" if levenshtein else proto.aligner
    return score_normalized(
        norm_refs,
        norm_hyps,
        protocol=proto,
        aligner=aligner,
        case_sensitive=case_sensitive,
        speakers=speakers,
        limits=limits,
    )


def _line_format(text: str) -> str | None:
    """``"ctm"``/``"hyp"`` for a data line, ``None`` for a comment or blank line."""
    if text.startswith(";"):
        return None
    fields = split_ws(text)
    if not fields:
        return None
    if len(fields) in (5, 6):
        try:
            float(fields[2])
            float(fields[3])
            return "ctm"
        except ValueError:
            pass
    return "hyp"


def _sniff_format(lines: Iterator[tuple[int, str]]) -> tuple[str, Iterable[tuple[int, str]]]:
    """The format of the first data line and every line (those read to decide included), so
    a pipe is read only once."""
    head: list[tuple[int, str]] = []
    for item in lines:
        head.append(item)
        fmt = _line_format(item[1])
        if fmt is not None:
            return fmt, itertools.chain(head, lines)
    return "ctm", head


def detect_hyp_format(path: str | os.PathLike[str], *, limits: Limits | None = None) -> str:
    """``"ctm"`` or ``"hyp"``: by extension (``.ctm``), else by the first data line's shape.

    A line with 5 or 6 fields whose third and fourth fields are numbers is CTM.
    """
    if os.fspath(path).lower().endswith(".ctm"):
        return "ctm"
    return _sniff_format(iter_lines(path, limits))[0]


def score_files(
    ref_path: str | os.PathLike[str],
    hyp_path: str | os.PathLike[str],
    protocol: str | Protocol = "none",
    levenshtein: bool = False,
    *,
    hyp_format: str = "auto",
    case_sensitive: bool = False,
    allow_empty_reference: bool = False,
    limits: Limits | None = None,
) -> ScoreReport:
    """Score a hypothesis file against an STM reference file (what ``slr-score`` does).

    Args:
        ref_path: STM file (:func:`slr_metrics.read_stm`).
        hyp_path: CTM file, or plain ``<id> <words...>`` lines.
        protocol, levenshtein, case_sensitive: as for :func:`score`.
        hyp_format: ``"ctm"``, ``"hyp"`` or ``"auto"`` (:func:`detect_hyp_format`).
        allow_empty_reference: as for :func:`score`.
        limits: bounds on each file's size, line length and line count and on one
            utterance's alignment (see :mod:`slr_metrics.limits`).

    Hypothesis ids are matched to reference ids case-insensitively unless ``case_sensitive``
    (sclite lower-cases ids). CTM words are taken in file order, or in the order the protocol's
    official script sorts them.

    Raises:
        FormatError: malformed file or a file over ``limits`` (message names file and line).
        ScoringError: hypothesis ids absent from the reference (message names them), a
            reference without words (unless ``allow_empty_reference``), or an utterance over
            ``limits``.
    """
    proto = get_protocol(protocol)
    if hyp_format not in ("auto", "ctm", "hyp"):
        raise ValueError(f"unknown hypothesis format {hyp_format!r}; use 'ctm', 'hyp' or 'auto'")
    segments = read_stm(ref_path, limits=limits)
    refs = {seg.utt_id: proto.normalize_ref(seg.words) for seg in segments}
    if not allow_empty_reference:
        raw_refs = {seg.utt_id: seg.words for seg in segments}
        check_reference_words(raw_refs, refs, proto, f"{os.fspath(ref_path)}: ")
    speakers = {seg.utt_id: seg.speaker for seg in segments}
    channels = {seg.utt_id: seg.channel for seg in segments}

    lines: Iterable[tuple[int, str]] = iter_lines(hyp_path, limits)
    fmt = hyp_format
    if fmt == "auto":
        fmt, lines = ("ctm", lines) if os.fspath(hyp_path).lower().endswith(".ctm") else _sniff_format(lines)
    if fmt == "ctm":
        words = parse_ctm_lines(lines, hyp_path)
        raw_hyps = proto.ctm_hyps(words, hyp_path)
        # utterance id -> (channel, line) of its first word: reversed, so that the first one stays
        hyp_channel = dict(zip(map(itemgetter(0), reversed(words)), map(itemgetter(1, 8), reversed(words))))
    else:
        raw_hyps = {uid: proto.normalize_hyp(w) for uid, w in parse_hyp_lines(lines, hyp_path).items()}
        hyp_channel = {}

    source = f"in {os.fspath(hyp_path)} "
    if refs.keys() >= raw_hyps.keys():  # every id as in the reference: nothing to resolve
        mapping = {hid: hid for hid in raw_hyps}
    else:
        mapping = _resolve_ids(refs, list(raw_hyps), not case_sensitive, source)
    hyps: dict[str, list[str]] = {}
    for hid, words_ in raw_hyps.items():
        rid = mapping[hid]
        if hid in hyp_channel:
            channel, line = hyp_channel[hid]
            if channel != channels[rid] and fold_ascii(channel) != fold_ascii(channels[rid]):
                raise FormatError(
                    f"channel {channel!r} of utterance {hid!r} differs from the reference channel "
                    f"{channels[rid]!r}",
                    hyp_path,
                    line=line,
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
        limits=limits,
    )
    return report.with_sources(os.fspath(ref_path), os.fspath(hyp_path))
