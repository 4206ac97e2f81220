"""Exact CTC log-likelihood of given label sequences (the score every decoder reports)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from slr_models.decoding._arrays import cpu_numpy
from slr_models.decoding._validation import check_ctc_inputs, check_hypotheses

__all__ = ["ctc_log_likelihood", "score_candidates"]


def ctc_log_likelihood(
    log_probs: torch.Tensor,
    lengths: torch.Tensor | Sequence[int],
    hypotheses: Sequence[Sequence[int]],
    blank: int = 0,
) -> torch.Tensor:
    """``log p(hypotheses[b] | x_b)`` summed over all CTC alignments, for each sequence ``b``.

    Computed with the CTC forward algorithm (``torch.nn.functional.ctc_loss``) in float64 on
    the CPU, so the value does not depend on which decoder produced the hypothesis. A
    hypothesis that cannot be aligned to ``lengths[b]`` frames (e.g. too long, or repeated
    labels without room for a separating blank) scores ``-inf``; the empty hypothesis of a
    zero-length sequence scores 0.

    Args:
        log_probs: ``(T, B, V)`` per-frame log-probabilities (log-softmax output), any device.
        lengths: ``(B,)`` valid frames per sequence.
        hypotheses: ``B`` label sequences (ids in ``[0, V)``, no blanks).
        blank: index of the CTC blank.

    Returns:
        ``(B,)`` float64 CPU tensor of log-likelihoods.
    """
    lengths_cpu = check_ctc_inputs(log_probs, lengths, blank)
    _, batch, vocab = log_probs.shape
    check_hypotheses(hypotheses, batch, vocab, blank)
    return score_candidates(log_probs, lengths_cpu, list(range(batch)), hypotheses, blank)


def score_candidates(
    log_probs: torch.Tensor,
    lengths: torch.Tensor,
    owners: Sequence[int],
    candidates: Sequence[Sequence[int]],
    blank: int,
) -> torch.Tensor:
    """Exact CTC log-likelihood of ``C`` candidate label sequences, each of one sequence.

    Only the columns a candidate uses (blank and its own labels) are gathered, on the device
    of ``log_probs``, into a ``(T, C, 1 + U)`` tensor (``U``: most distinct labels in one
    candidate), so scoring many candidates never copies the full ``(T, B, V)`` scores.

    Args:
        log_probs: ``(T, B, V)`` log-probabilities (already validated).
        lengths: ``(B,)`` CPU int64 valid frames per sequence.
        owners: ``C`` sequence indices: candidate ``i`` is scored against ``owners[i]``.
        candidates: ``C`` label sequences (already validated: no blank, in range).
        blank: index of the CTC blank.

    Returns:
        ``(C,)`` float64 CPU tensor.
    """
    num_frames = log_probs.shape[0]
    count = len(candidates)
    target_lengths = torch.tensor([len(c) for c in candidates], dtype=torch.int64)
    if count == 0:
        return torch.zeros(0, dtype=torch.float64)
    owner = torch.tensor(list(owners), dtype=torch.int64)
    input_lengths = lengths[owner]
    if num_frames == 0:  # ctc_loss refuses empty inputs; only the empty hypothesis fits
        return torch.where(target_lengths == 0, 0.0, float("-inf")).to(torch.float64)
    local_vocabularies = [list(dict.fromkeys(int(label) for label in c)) for c in candidates]
    width = 1 + max(len(local) for local in local_vocabularies)
    columns = torch.full((count, width), blank, dtype=torch.int64)  # column 0: blank
    targets: list[int] = []
    for index, (candidate, local) in enumerate(zip(candidates, local_vocabularies, strict=True)):
        columns[index, 1 : 1 + len(local)] = torch.tensor(local, dtype=torch.int64)
        position = {label: 1 + i for i, label in enumerate(local)}
        targets.extend(position[int(label)] for label in candidate)
    array = cpu_numpy(log_probs)
    if array is None:
        device = log_probs.device
        compact = log_probs.detach()[:, owner.to(device)[:, None], columns.to(device)].cpu()
    else:
        compact = torch.from_numpy(array[:, owner.numpy()[:, None], columns.numpy()])
    negative = F.ctc_loss(
        compact.to(torch.float64),  # (T, C, width)
        torch.tensor(targets, dtype=torch.int64),
        input_lengths,
        target_lengths,
        blank=0,
        reduction="none",
        zero_infinity=False,
    )
    return -negative
