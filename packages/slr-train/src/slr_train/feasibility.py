"""Find samples CTC cannot align before training, instead of meeting them as infinite losses.

CTC needs at least ``L + r`` output frames for a label of length ``L`` with ``r`` pairs of equal
consecutive labels (a blank must separate each such pair). A sample is infeasible when the
model's output length (``model.output_lengths(num_frames)``, after temporal downsampling) is
shorter than that.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from slr_train.errors import CTCInfeasibleError

_log = logging.getLogger(__name__)


def ctc_min_output_length(label: Sequence[int]) -> int:
    """Minimum number of CTC output frames for ``label``: its length plus its repeats."""
    label = list(label)
    repeats = sum(1 for a, b in zip(label, label[1:]) if a == b)
    return len(label) + repeats


@dataclass(frozen=True)
class InfeasibleSample:
    index: int
    video_id: str
    num_frames: int
    output_length: int
    required: int

    @property
    def shortfall(self) -> int:
        return self.required - self.output_length


@dataclass(frozen=True)
class FeasibilityReport:
    """``infeasible`` is sorted worst first (largest shortfall)."""

    total: int
    infeasible: tuple[InfeasibleSample, ...]

    @property
    def feasible_indices(self) -> list[int]:
        bad = {s.index for s in self.infeasible}
        return [i for i in range(self.total) if i not in bad]

    def format(self, worst: int = 10) -> str:
        if not self.infeasible:
            return f"CTC feasibility: all {self.total} samples can be aligned"
        lines = [f"CTC feasibility: {len(self.infeasible)} of {self.total} samples have fewer output frames "
                 f"than their label needs; worst {min(worst, len(self.infeasible))}:"]
        for s in self.infeasible[:worst]:
            lines.append(f"  {s.video_id}: {s.num_frames} frames -> {s.output_length} outputs, "
                         f"needs {s.required} (short by {s.shortfall})")
        return "\n".join(lines)


def check_ctc_feasibility(video_ids: Sequence[str], num_frames: Sequence[int], labels: Sequence[Sequence[int]],
                          output_lengths: Callable[[torch.Tensor], torch.Tensor]) -> FeasibilityReport:
    """``output_lengths``: ``(B,) int64 frame counts -> (B,) output lengths`` (the model's method)."""
    if not len(video_ids) == len(num_frames) == len(labels):
        raise ValueError(f"video_ids, num_frames and labels differ in length: "
                         f"{len(video_ids)}, {len(num_frames)}, {len(labels)}")
    if not video_ids:
        return FeasibilityReport(total=0, infeasible=())
    out = output_lengths(torch.as_tensor(list(num_frames), dtype=torch.int64))
    out = torch.as_tensor(out).reshape(-1).tolist()
    if len(out) != len(video_ids):
        raise ValueError(f"output_lengths returned {len(out)} values for {len(video_ids)} samples")
    bad = []
    for i, (vid, frames, label, length) in enumerate(zip(video_ids, num_frames, labels, out)):
        required = ctc_min_output_length(label)
        if int(length) < required:
            bad.append(InfeasibleSample(i, str(vid), int(frames), int(length), required))
    bad.sort(key=lambda s: (-s.shortfall, s.index))
    return FeasibilityReport(total=len(video_ids), infeasible=tuple(bad))


def apply_feasibility_policy(report: FeasibilityReport, policy: str, worst: int = 10, log: bool = True) -> list[int]:
    """Indices to train on: all feasible ones (``"drop"``, logged if ``log``), or raise (``"error"``)."""
    if policy not in ("drop", "error"):
        raise ValueError(f"CTC infeasible policy must be 'drop' or 'error', got {policy!r}")
    if report.infeasible:
        if policy == "error":
            raise CTCInfeasibleError(report.format(worst) + "\n(set faults.ctc_infeasible='drop' to drop them)")
        if log:
            _log.warning("%s\ndropping them from training", report.format(worst))
    if len(report.infeasible) == report.total and report.total:
        raise CTCInfeasibleError(report.format(worst) + "\nno trainable samples remain")
    return report.feasible_indices
