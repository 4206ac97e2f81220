"""CTC loss on the model contract's ``CTCOutput`` and a PackedBatch."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

REDUCTIONS = ("sum", "mean_per_target")


def ctc_loss_sum(output: Any, batch: Any, blank: int = 0, reduction: str = "sum") -> torch.Tensor:
    """CTC negative log-likelihood summed over the batch's samples, float32 scalar.

    ``reduction="sum"`` sums each sample's negative log-likelihood; ``"mean_per_target"`` first
    divides each by its target length (clamped to at least 1, as ``torch.nn.CTCLoss``'s
    ``reduction="mean"`` does), so ``ctc_loss_sum(..., "mean_per_target") / B`` is that loss.
    The Trainer divides the sum over every sample of an optimiser step by their number.

    ``output.log_probs (T', B, V)`` log-softmax (any float dtype, computed in float32),
    ``output.lengths (B,)``; ``batch.labels (sum_L,) int64`` concatenated, ``batch.label_lengths (B,)``.
    Infeasible alignments give ``inf`` (no ``zero_infinity``): the Trainer skips such steps and the
    feasibility check should have removed those samples beforehand.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    log_probs = output.log_probs.float()
    device = log_probs.device
    label_lengths = batch.label_lengths.to(device=device, dtype=torch.long)
    args = (log_probs, batch.labels.to(device), output.lengths.to(device=device, dtype=torch.long), label_lengths)
    if reduction == "sum":
        return F.ctc_loss(*args, blank=blank, reduction="sum", zero_infinity=False)
    per_sample = F.ctc_loss(*args, blank=blank, reduction="none", zero_infinity=False)  # (B,)
    return (per_sample / label_lengths.clamp(min=1).to(per_sample.dtype)).sum()
