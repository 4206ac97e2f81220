"""Textbook CTC prefix beam search, one sequence at a time, in plain Python.

This is the readable reference (Hannun et al., 2014, "First-pass large vocabulary continuous
speech recognition using bi-directional recurrent DNNs", without a language model) that the
class-pruned :func:`slr_models.decoding.prefix_beam.ctc_prefix_beam_search` is tested against.
It expands every prefix in the beam with every class at every frame, so it is slow
(``O(T * beam * V)`` Python operations); use it for tests and small inputs only.
"""

from __future__ import annotations

import functools
import math

import torch

__all__ = ["ctc_prefix_beam_search_ref"]

_NEG_INF = float("-inf")


def _log_add(a: float, b: float) -> float:
    if a == _NEG_INF:
        return b
    if b == _NEG_INF:
        return a
    high, low = (a, b) if a > b else (b, a)
    return high + math.log1p(math.exp(low - high))


def _accumulate(
    beam: dict[tuple[int, ...], list[float]], prefix: tuple[int, ...], blank_end: float, label_end: float
) -> None:
    """Add log-masses ending in blank / in the last label to ``prefix``'s entry of ``beam``."""
    entry = beam.setdefault(prefix, [_NEG_INF, _NEG_INF])
    entry[0] = _log_add(entry[0], blank_end)
    entry[1] = _log_add(entry[1], label_end)


def ctc_prefix_beam_search_ref(
    log_probs: torch.Tensor, beam_size: int, blank: int = 0
) -> list[tuple[tuple[int, ...], float]]:
    """Prefix beam search over one sequence.

    A prefix (collapsed label sequence so far) carries two log-probabilities: ``p_b``, the
    mass of its alignments ending in blank, and ``p_nb``, ending in its last label. Each frame
    every prefix is extended by every class; a repeated label only starts a new label after a
    blank. After each frame the ``beam_size`` prefixes with the largest ``p_b (+) p_nb`` are
    kept (ties keep the first prefix created).

    Args:
        log_probs: ``(T, V)`` log-probabilities of one sequence (only its valid frames).
        beam_size: prefixes kept after each frame, ``>= 1``.
        blank: index of the CTC blank.

    Returns:
        The final beam as ``(prefix, log p(prefix))`` pairs, best first. With a beam wide
        enough never to prune, ``log p(prefix)`` is the exact CTC log-likelihood.
    """
    if log_probs.dim() != 2:
        raise ValueError(f"log_probs must have shape (T, V), got {tuple(log_probs.shape)}")
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    rows = log_probs.detach().to("cpu", torch.float64).tolist()
    beam: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, _NEG_INF)}
    for row in rows:
        following: dict[tuple[int, ...], list[float]] = {}
        add = functools.partial(_accumulate, following)
        for prefix, (p_blank, p_label) in beam.items():
            total = _log_add(p_blank, p_label)
            last = prefix[-1] if prefix else None
            for label, score in enumerate(row):
                if label == blank:
                    add(prefix, total + score, _NEG_INF)
                elif label == last:
                    add(prefix, _NEG_INF, p_label + score)  # repeat collapses into the prefix
                    add(prefix + (label,), _NEG_INF, p_blank + score)  # blank-separated repeat
                else:
                    add(prefix + (label,), _NEG_INF, total + score)
        possible = [item for item in following.items() if _log_add(*item[1]) > _NEG_INF]
        ranked = sorted(possible, key=lambda item: -_log_add(*item[1]))
        beam = {prefix: (entry[0], entry[1]) for prefix, entry in ranked[:beam_size]}
    if not beam:  # every alignment has probability zero
        return [((), _NEG_INF)]
    return [(prefix, _log_add(*scores)) for prefix, scores in beam.items()]
