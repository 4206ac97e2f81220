"""Files a run leaves for a split: CTM hypotheses, STM references, sclite-style reports.

For split ``S`` in the output folder:

* ``S.stm`` the ground truth (the corpus' official STM when it ships one),
* ``S.ctm`` the hypotheses in PHOENIX CTM form (one gloss per line),
* ``S.sys.txt`` sclite-style summary (totals, per speaker), ``S.pra`` aligned utterances,
  ``S.json`` totals and per-utterance counts, ``S.confusions.txt`` the most frequent errors.

The WER written here is computed from the files (as ``slr-score`` would) and is checked against
the counts accumulated during decoding: if the two disagree, evaluation is broken and this
raises instead of reporting a number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from slr_metrics import ScoreReport, score_files, write_ctm
from slr_train.atomic import atomic_write_bytes

from slr_phoenix.errors import ScoringMismatchError


def _write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def format_confusions(report: ScoreReport, top: int = 20) -> str:
    """The ``top`` most frequent substitutions, deletions and insertions, one per line."""
    lines = []
    for kind, items in report.confusions(top).items():
        lines.append(f"{kind} (count, words as compared):")
        lines.extend(f"{count:>6}  {text}" for text, count in items)
        lines.append("")
    return "\n".join(lines)


def write_split_reports(out_dir: Path, split: str, stm_path: Path,
                        hypotheses: Sequence[tuple[str, Sequence[str]]], protocol: str,
                        expected_counts: Any | None = None) -> ScoreReport:
    """Write ``split``'s CTM and reports into ``out_dir``; returns the file-based score."""
    ctm_path = out_dir / f"{split}.ctm"
    write_ctm(ctm_path, {video_id: list(glosses) for video_id, glosses in hypotheses})
    report = score_files(stm_path, ctm_path, protocol=protocol)
    if expected_counts is not None:
        mine = tuple(int(v) for v in (report.counts.N, report.counts.C, report.counts.S, report.counts.D,
                                      report.counts.I))
        theirs = tuple(int(v) for v in (expected_counts.N, expected_counts.C, expected_counts.S,
                                        expected_counts.D, expected_counts.I))
        if mine != theirs:
            raise ScoringMismatchError(
                f"{split}: scoring {ctm_path} against {stm_path} gives (N, C, S, D, I) = {mine}, but decoding "
                f"accumulated {theirs}; the references or hypotheses were lost or changed on the way")
    _write_text(out_dir / f"{split}.sys.txt", report.format_summary())
    _write_text(out_dir / f"{split}.pra", report.format_pra())
    _write_text(out_dir / f"{split}.json", report.to_json(indent=1))
    _write_text(out_dir / f"{split}.confusions.txt", format_confusions(report))
    return report


def split_summary(report: ScoreReport) -> dict[str, Any]:
    counts = report.counts
    return {"wer": report.wer, "N": counts.N, "C": counts.C, "S": counts.S, "D": counts.D, "I": counts.I,
            "utterances": len(report.utterances)}
