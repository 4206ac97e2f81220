"""Score reports: totals, per-utterance and per-speaker counts, confusions, JSON, text views."""

from __future__ import annotations

import math
from collections import Counter, namedtuple
from collections.abc import Iterator

from slr_metrics.counts import Counts
from slr_metrics.text import fold_ascii, sclite_word

__all__ = ["ScoreReport", "UtteranceResult"]


class UtteranceResult(namedtuple("UtteranceResult", ("utt_id", "speaker", "ref", "hyp", "edits", "counts"))):
    """One scored utterance (an immutable named tuple).

    Attributes:
        utt_id: utterance id (as in the reference).
        speaker: speaker (``"-"`` when unknown).
        ref: reference words as scored (after the protocol).
        hyp: hypothesis words as scored.
        edits: one of ``C``/``S``/``D``/``I`` per alignment column, in order.
        counts: counts of this utterance.
    """

    __slots__ = ()

    def columns(self) -> Iterator[tuple[str, str | None, str | None]]:
        """``(edit, ref_word or None, hyp_word or None)`` per alignment column."""
        r = h = 0
        for edit in self.edits:
            if edit == "D":
                yield edit, self.ref[r], None
                r += 1
            elif edit == "I":
                yield edit, None, self.hyp[h]
                h += 1
            else:
                yield edit, self.ref[r], self.hyp[h]
                r += 1
                h += 1


def _as_is(word: str) -> str:
    return word


def _upper_ascii(word: str) -> str:
    return "".join(c.upper() if "a" <= c <= "z" else c for c in word)


_REPORT_FIELDS = ("utterances", "protocol", "aligner", "case_sensitive", "ref_path", "hyp_path")


class ScoreReport(namedtuple("ScoreReport", _REPORT_FIELDS, defaults=("none", "sclite", False, None, None))):
    """Result of :func:`slr_metrics.score` / :func:`slr_metrics.score_files` (an immutable named tuple).

    Attributes:
        utterances: per-utterance results in reference order.
        protocol: protocol name.
        aligner: ``"sclite"``, ``"levenshtein"`` or ``"slrt"``.
        case_sensitive: whether words were compared case-sensitively.
        ref_path, hyp_path: the scored files (``None`` for in-memory scoring).
    """

    # no ``__slots__ = ()``: instances keep a ``__dict__`` for the id index :meth:`utterance` builds

    def with_sources(self, ref_path: str, hyp_path: str) -> ScoreReport:
        """Copy that remembers which files were scored."""
        return self._replace(ref_path=ref_path, hyp_path=hyp_path)

    @property
    def counts(self) -> Counts:
        """Totals over all utterances."""
        return Counts.total(u.counts for u in self.utterances)

    @property
    def wer(self) -> float:
        """Corpus WER in percent (from summed counts); NaN or ``inf`` when ``N == 0`` (see
        :attr:`Counts.wer`)."""
        return self.counts.wer

    def utterance(self, utt_id: str) -> UtteranceResult:
        """The result of one utterance (``KeyError`` if it was not scored)."""
        by_id = self.__dict__.get("_by_id")
        if by_id is None:
            by_id = self.__dict__["_by_id"] = {u.utt_id: u for u in self.utterances}
        return by_id[utt_id]

    def speaker_counts(self) -> dict[str, Counts]:
        """Speaker -> summed counts, speakers in order of first appearance."""
        groups: dict[str, list[Counts]] = {}
        for u in self.utterances:
            groups.setdefault(u.speaker, []).append(u.counts)
        return {spk: Counts.total(items) for spk, items in groups.items()}

    def _display(self, word: str) -> str:
        return word if self.case_sensitive else fold_ascii(word)

    def confusions(self, top: int = 10) -> dict[str, list[tuple[str, int]]]:
        """Most frequent errors: ``{"substitutions": [("REF -> HYP", n), ...], "deletions": [...],
        "insertions": [...]}``, each sorted by count (then text), at most ``top`` entries.

        Words are shown as compared (lower-cased unless case-sensitive).
        """
        # raw words first, shown (folded) per distinct word afterwards: fewer calls
        subs: list[tuple[str, str]] = []
        dels: list[str] = []
        ins: list[str] = []
        for u in self.utterances:
            edits = u.edits
            if edits.count("C") == len(edits):  # no errors (most columns of a good system)
                continue
            r = h = 0
            ref, hyp = u.ref, u.hyp
            for edit in edits:
                if edit == "C":
                    r += 1
                    h += 1
                elif edit == "S":
                    subs.append((ref[r], hyp[h]))
                    r += 1
                    h += 1
                elif edit == "D":
                    dels.append(ref[r])
                    r += 1
                else:
                    ins.append(hyp[h])
                    h += 1
        display = _as_is if self.case_sensitive else fold_ascii

        def shown(counts: Counter, text) -> dict[str, int]:
            out: dict[str, int] = {}
            for key, n in counts.items():
                key = text(key)
                out[key] = out.get(key, 0) + n
            return out

        def pair(words: tuple[str, str]) -> str:
            return f"{display(words[0])} -> {display(words[1])}"

        def best(counter: dict[str, int]) -> list[tuple[str, int]]:
            return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top]

        return {
            "substitutions": best(shown(Counter(subs), pair)),
            "deletions": best(shown(Counter(dels), display)),
            "insertions": best(shown(Counter(ins), display)),
        }

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self, top_confusions: int = 10) -> dict:
        """JSON-ready dict: totals ``N C S D I wer`` (percent) at top level, ``utterances``
        (id -> counts), ``speakers`` (speaker -> counts), ``confusions`` and the settings."""
        totals = self.counts.to_dict()
        out: dict = {k: totals[k] for k in ("N", "C", "S", "D", "I", "wer")}
        out["num_utterances"] = totals["utterances"]
        out["utterance_errors"] = totals["utterance_errors"]
        out["protocol"] = self.protocol
        out["aligner"] = self.aligner
        out["case_sensitive"] = self.case_sensitive
        out["ref_path"] = self.ref_path
        out["hyp_path"] = self.hyp_path
        out["utterances"] = {
            u.utt_id: {
                "speaker": u.speaker,
                "N": u.counts.N,
                "C": u.counts.C,
                "S": u.counts.S,
                "D": u.counts.D,
                "I": u.counts.I,
            }
            for u in self.utterances
        }
        out["speakers"] = {}
        for spk, c in self.speaker_counts().items():
            d = c.to_dict()
            out["speakers"][spk] = {k: d[k] for k in ("N", "C", "S", "D", "I", "wer", "utterances")}
        out["confusions"] = {
            kind: [[text, n] for text, n in items] for kind, items in self.confusions(top_confusions).items()
        }
        return out

    def to_json(self, indent: int | None = None, top_confusions: int = 10) -> str:
        """:meth:`to_dict` as a JSON string (strict JSON: an infinite WER is ``null``)."""
        import json  # here: slr-score imports it only for --json

        return json.dumps(self.to_dict(top_confusions), indent=indent, ensure_ascii=False, allow_nan=False)

    # -- text views ---------------------------------------------------------------------------
    def format_summary(self, top_confusions: int = 5) -> str:
        """sclite-style summary: percentages per speaker and in total, then the top confusions."""
        title = self.hyp_path or "hypotheses"
        cells = " ".join(f"{name:>5}" for name in ("Corr", "Sub", "Del", "Ins", "Err", "S.Err"))
        header = f"| {'SPKR':<10} | {'# Snt':>5} {'# Wrd':>6} | {cells} |"
        width = len(header)
        rule = "|" + "-" * (width - 2) + "|"
        lines = [
            f"SYSTEM SUMMARY PERCENTAGES by SPEAKER  (protocol {self.protocol}, {self.aligner} alignment)",
            "",
            "," + "-" * (width - 2) + ".",
            "|" + title[: width - 2].center(width - 2) + "|",
            rule,
            header,
            rule,
        ]

        def row(name: str, c: Counts) -> str:
            n = c.N or 1
            pct = [100.0 * v / n for v in (c.C, c.S, c.D, c.I, c.errors)]
            serr = 100.0 * c.utterance_errors / (c.utterances or 1)
            cells = " ".join(f"{p:5.1f}" for p in pct)
            return f"| {name[:10]:<10} | {c.utterances:>5} {c.N:>6} | {cells} {serr:5.1f} |"

        speakers = self.speaker_counts()
        for spk in sorted(speakers):
            lines.append(row(self._display(spk), speakers[spk]))
        c = self.counts
        lines.append("|" + "=" * (width - 2) + "|")
        lines.append(row("Sum/Avg", c))
        lines.append("`" + "-" * (width - 2) + "'")
        lines.append("")
        wer = f"{c.wer:.2f}%" if math.isfinite(c.wer) else "undefined (no reference words)"
        lines.append(f"WER {wer}  (N={c.N} C={c.C} S={c.S} D={c.D} I={c.I}, {c.utterances} utterances)")
        conf = self.confusions(top_confusions)
        for kind in ("substitutions", "deletions", "insertions"):
            if conf[kind]:
                lines.append(f"top {kind}: " + ", ".join(f"{text} ({n})" for text, n in conf[kind]))
        return "\n".join(lines) + "\n"

    def format_pra(self) -> str:
        """sclite-style ``pra`` alignment listing, grouped by speaker like ``sclite -o pra``.

        Correct words are lower-case, errors upper-case (ASCII), ``*`` fills the missing side;
        ids and speakers are lower-cased unless the scoring was case-sensitive (as sclite prints them).
        """
        lines = [
            "",
            "",
            "\t\tDUMP OF SYSTEM ALIGNMENT STRUCTURE",
            "",
            f"System name:   {self.hyp_path or 'hypotheses'}",
            "",
        ]
        groups: dict[str, list[UtteranceResult]] = {}
        for u in self.utterances:
            groups.setdefault(fold_ascii(u.speaker), []).append(u)
        names = list(groups)  # sclite lists speakers in order of first appearance
        lines.append("Speakers: ")
        lines.extend(f"{k:>5}:  {name}" for k, name in enumerate(names))
        lines.append("")
        for k, name in enumerate(names):
            lines.append(f"Speaker sentences {k:>3}:  {name}   #utts: {len(groups[name])}")
            for index, u in enumerate(groups[name]):
                lines.extend(self._pra_block(u, f"({name}-{index:03d})"))
        return "\n".join(lines) + "\n"

    def _pra_block(self, u: UtteranceResult, label: str) -> list[str]:
        refs, hyps, evals = [], [], []
        for edit, ref, hyp in u.columns():
            if self.aligner == "sclite":  # show the words as sclite read them
                ref = None if ref is None else sclite_word(ref)
                hyp = None if hyp is None else sclite_word(hyp)
            if edit == "C":
                r, h = fold_ascii(ref), fold_ascii(hyp)
            else:
                r = _upper_ascii(ref) if ref is not None else None
                h = _upper_ascii(hyp) if hyp is not None else None
            width = max(len(r or ""), len(h or ""))
            r = "*" * width if r is None else r
            h = "*" * width if h is None else h
            refs.append(r.ljust(width))
            hyps.append(h.ljust(width))
            evals.append(("" if edit == "C" else edit).ljust(width))
        c = u.counts
        block = [
            f"id: {label}",
            f"File: {self._display(u.utt_id)}",
            f"Scores: (#C #S #D #I) {c.C} {c.S} {c.D} {c.I}",
        ]
        if u.edits:  # sclite prints no alignment lines for an empty reference and hypothesis
            block.append("REF:  " + "".join(x + " " for x in refs))
            block.append("HYP:  " + "".join(x + " " for x in hyps))
            block.append("Eval: " + "".join(x + " " for x in evals))
        return block + [""]
