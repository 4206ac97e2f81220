"""Greedy (best-path) CTC decoding: take the arg-max class of every frame, collapse
repeats, drop blanks."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from slr_models.decoding._validation import check_ctc_inputs

__all__ = ["ctc_greedy_decode", "greedy_decode_checked"]


def ctc_greedy_decode(
    log_probs: torch.Tensor, lengths: torch.Tensor | Sequence[int], blank: int = 0
) -> list[list[int]]:
    """Best-path CTC decoding of a padded batch.

    For each sequence ``b`` the arg-max class of each of its first ``lengths[b]`` frames is
    taken, runs of the same class are collapsed to one, and blanks are removed
    (``a a - a b`` -> ``a a b``). Frames past ``lengths[b]`` are ignored. Ties between
    classes go to the lowest index (``torch.argmax``).

    The arg-max runs on the device of ``log_probs``; only ``(T, B)`` indices reach the CPU.

    Args:
        log_probs: ``(T, B, V)`` per-frame log-probabilities (any floating dtype, any device).
        lengths: ``(B,)`` number of valid frames of each sequence, ``0 <= lengths[b] <= T``.
        blank: index of the CTC blank class.

    Returns:
        ``B`` lists of label ids (no blanks), one per sequence; empty where nothing but
        blank was emitted or ``lengths[b] == 0``.
    """
    return greedy_decode_checked(log_probs, check_ctc_inputs(log_probs, lengths, blank), blank)


def greedy_decode_checked(log_probs: torch.Tensor, lengths: torch.Tensor, blank: int) -> list[list[int]]:
    """:func:`ctc_greedy_decode` for inputs already validated (``lengths``: CPU int64 ``(B,)``)."""
    num_frames, batch, _ = log_probs.shape
    if num_frames == 0 or batch == 0:
        return [[] for _ in range(batch)]
    best = log_probs.detach().argmax(dim=-1)  # (T, B)
    previous = torch.cat([torch.full_like(best[:1], -1), best[:-1]], dim=0)
    frame_index = torch.arange(num_frames, device=best.device).unsqueeze(1)  # (T, 1)
    emitted = (best != blank) & (best != previous) & (frame_index < lengths.to(best.device))
    best_cpu = best.t().cpu()  # (B, T)
    emitted_cpu = emitted.t().cpu()
    return [best_cpu[b][emitted_cpu[b]].tolist() for b in range(batch)]
