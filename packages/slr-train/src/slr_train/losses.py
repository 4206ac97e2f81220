"""CTC loss on the model contract's ``CTCOutput`` and a PackedBatch."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def ctc_loss_sum(output: Any, batch: Any, blank: int = 0) -> torch.Tensor:
    """Summed (over the batch) CTC negative log-likelihood, float32 scalar.

    ``output.log_probs (T', B, V)`` log-softmax (any float dtype, computed in float32),
    ``output.lengths (B,)``; ``batch.labels (sum_L,) int64`` concatenated, ``batch.label_lengths (B,)``.
    Infeasible alignments give ``inf`` (no ``zero_infinity``): the Trainer skips such steps and the
    feasibility check should have removed those samples beforehand.
    """
    log_probs = output.log_probs.float()
    device = log_probs.device
    return F.ctc_loss(log_probs, batch.labels.to(device), output.lengths.to(device=device, dtype=torch.long),
                      batch.label_lengths.to(device=device, dtype=torch.long), blank=blank,
                      reduction="sum", zero_infinity=False)
