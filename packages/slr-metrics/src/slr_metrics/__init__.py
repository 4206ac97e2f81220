"""slr-metrics: word error rate exactly as NIST sclite counts it, PHOENIX scoring protocols,
STM/CTM files, a sum-reducible training-time accumulator and the ``slr-score`` CLI.

No torch needed; ``slr_metrics.distributed`` imports torch only when called.
"""

from slr_metrics.__about__ import __version__
from slr_metrics.accumulator import WERAccumulator
from slr_metrics.align import align, align_levenshtein, align_sclite, align_slrt
from slr_metrics.counts import Counts
from slr_metrics.ctm import CTMWord, read_ctm, read_ctm_words, read_hyp, write_ctm, write_hyp
from slr_metrics.errors import FormatError, OutputError, ScoringError, SlrMetricsError
from slr_metrics.limits import DEFAULT_LIMITS, Limits
from slr_metrics.protocols import Protocol, get_protocol, list_protocols
from slr_metrics.report import ScoreReport, UtteranceResult
from slr_metrics.scoring import score, score_files
from slr_metrics.stm import STMSegment, read_stm, stm_to_refs, write_stm

__all__ = [
    "__version__",
    "DEFAULT_LIMITS",
    "CTMWord",
    "Counts",
    "FormatError",
    "Limits",
    "OutputError",
    "Protocol",
    "SlrMetricsError",
    "STMSegment",
    "ScoreReport",
    "ScoringError",
    "UtteranceResult",
    "WERAccumulator",
    "align",
    "align_levenshtein",
    "align_sclite",
    "align_slrt",
    "get_protocol",
    "list_protocols",
    "read_ctm",
    "read_ctm_words",
    "read_hyp",
    "read_stm",
    "score",
    "score_files",
    "stm_to_refs",
    "write_ctm",
    "write_hyp",
    "write_stm",
]
