"""Greedy (best-path) CTC decoding: take the arg-max class of every frame, collapse
repeats, drop blanks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from slr_models.decoding._arrays import cpu_numpy
from slr_models.decoding._validation import check_ctc_inputs, check_frame_maxima, check_option_int
from slr_models.decoding.base import Decoder
from slr_models.decoding.registry import register_decoder

__all__ = ["GreedyConfig", "GreedyDecoder", "best_path", "collapse_best_path", "ctc_greedy_decode"]


@dataclass(frozen=True)
class GreedyConfig:
    """Options of the ``greedy`` decoder: ``blank``, the index of the CTC blank (``>= 0``)."""

    blank: int = 0

    def __post_init__(self) -> None:
        check_option_int("blank", self.blank, 0)


@register_decoder
class GreedyDecoder(Decoder):
    """``greedy``: :func:`ctc_greedy_decode` behind the :class:`~slr_models.decoding.Decoder`
    interface."""

    name = "greedy"
    Config = GreedyConfig

    def __init__(self, blank: int = 0) -> None:
        self.config = GreedyConfig(blank)

    def decode(self, log_probs: torch.Tensor, lengths: torch.Tensor | Sequence[int]) -> list[list[int]]:
        """Best path of each sequence of ``log_probs (T, B, V)`` (see :func:`ctc_greedy_decode`)."""
        return ctc_greedy_decode(log_probs, lengths, self.config.blank)

    def best_path(self, log_probs: torch.Tensor) -> torch.Tensor:
        """``(T, B)`` arg-max class of every frame (the alignment before collapsing)."""
        return best_path(log_probs)


def ctc_greedy_decode(
    log_probs: torch.Tensor, lengths: torch.Tensor | Sequence[int], blank: int = 0
) -> list[list[int]]:
    """Best-path CTC decoding of a padded batch.

    For each sequence ``b`` the arg-max class of each of its first ``lengths[b]`` frames is
    taken, runs of the same class are collapsed to one, and blanks are removed
    (``a a - a b`` -> ``a a b``). Frames past ``lengths[b]`` are ignored. Ties between
    classes go to the lowest index.

    The arg-max runs on the device of ``log_probs``; only ``(T, B)`` indices reach the CPU.

    Args:
        log_probs: ``(T, B, V)`` per-frame log-probabilities (any floating dtype, any device).
        lengths: ``(B,)`` number of valid frames of each sequence, ``0 <= lengths[b] <= T``.
        blank: index of the CTC blank class.

    Returns:
        ``B`` lists of label ids (no blanks), one per sequence; empty where nothing but
        blank was emitted or ``lengths[b] == 0``.
    """
    lengths_cpu = check_ctc_inputs(log_probs, lengths, blank, check_values=False)
    return collapse_best_path(best_path(log_probs), lengths_cpu, blank)


def best_path(log_probs: torch.Tensor) -> torch.Tensor:
    """``(T, B)`` arg-max class of each frame of ``log_probs (T, B, V)``, on its device.

    Raises ``ValueError`` on NaN or +inf scores (checked on the maxima, at no extra pass).
    """
    if log_probs.numel() == 0:
        return torch.zeros(log_probs.shape[:2], dtype=torch.int64, device=log_probs.device)
    array = cpu_numpy(log_probs)
    if array is not None:  # ties: first maximal index, as in torch
        check_frame_maxima(torch.from_numpy(array.max(axis=-1)))
        return torch.from_numpy(array.argmax(axis=-1))
    maxima, best = log_probs.detach().max(dim=-1)
    check_frame_maxima(maxima)
    return best


def collapse_best_path(best: torch.Tensor, lengths: torch.Tensor, blank: int) -> list[list[int]]:
    """Label lists from a best path ``(T, B)``: frames past ``lengths (B,)`` dropped, repeats
    collapsed, blanks removed."""
    num_frames, batch = best.shape
    if num_frames == 0 or batch == 0:
        return [[] for _ in range(batch)]
    previous = torch.cat([torch.full_like(best[:1], -1), best[:-1]], dim=0)
    frame_index = torch.arange(num_frames, device=best.device).unsqueeze(1)  # (T, 1)
    emitted = (best != blank) & (best != previous) & (frame_index < lengths.to(best.device))
    best_cpu = best.t().cpu()  # (B, T)
    emitted_cpu = emitted.t().cpu()
    return [best_cpu[b][emitted_cpu[b]].tolist() for b in range(batch)]
