"""slr-metrics: word error rate exactly as NIST sclite counts it, PHOENIX scoring protocols,
STM/CTM files, a sum-reducible training-time accumulator and the ``slr-score`` CLI.

No torch needed; ``slr_metrics.distributed`` imports torch only when called. The names below
are imported from their modules on first use (``slr-score`` loads only what it runs).
"""

from slr_metrics.__about__ import __version__

# Imported now: the submodule ``slr_metrics.align`` would otherwise shadow the function ``align``.
from slr_metrics.align import align, align_levenshtein, align_sclite, align_slrt

# public name -> module that defines it
_EXPORTS = {
    "WERAccumulator": "accumulator",
    "Counts": "counts",
    "CTMWord": "ctm",
    "read_ctm": "ctm",
    "read_ctm_words": "ctm",
    "read_hyp": "ctm",
    "write_ctm": "ctm",
    "write_hyp": "ctm",
    "FormatError": "errors",
    "OutputError": "errors",
    "ScoringError": "errors",
    "SlrMetricsError": "errors",
    "DEFAULT_LIMITS": "limits",
    "Limits": "limits",
    "Protocol": "protocols",
    "get_protocol": "protocols",
    "list_protocols": "protocols",
    "ScoreReport": "report",
    "UtteranceResult": "report",
    "score": "scoring",
    "score_files": "scoring",
    "STMSegment": "stm",
    "read_stm": "stm",
    "stm_to_refs": "stm",
    "write_stm": "stm",
}

__all__ = [
    "__version__",
    "align",
    "align_levenshtein",
    "align_sclite",
    "align_slrt",
    *_EXPORTS,
]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'slr_metrics' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"slr_metrics.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
