"""Small building blocks shared by the layers: packing info, norms, FFN, drop path, init."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from slr_models.ops import add_norm, rms_norm_gated

Tensor = torch.Tensor

MODEL_BACKENDS = ("auto", "reference", "mamba_ssm")


def op_backend(model_backend: str, op: str) -> str:
    """Map a model-level backend (``auto``/``reference``/``mamba_ssm``) to an op's backend name.

    ``mamba_ssm`` names mamba-ssm's kernels for the scan and the norms; the causal conv then uses
    the best fast conv that serves the inputs (causal-conv1d, else slr's Triton kernel, else the
    reference: ``causal_conv1d(backend="fast")``), since causal-conv1d is optional.
    """
    if model_backend not in MODEL_BACKENDS:
        raise ValueError(f"backend must be one of {MODEL_BACKENDS}, got {model_backend!r}")
    if model_backend == "mamba_ssm" and op == "conv":
        return "fast"
    return model_backend


@dataclass(frozen=True)
class Packing:
    """How the frames of ``B`` videos are packed along one time axis of ``F = sum(lengths)`` frames.

    ``lengths (B,)`` int64 frames per video; ``seq_idx (F,)`` int32 video index of each frame. Only
    tensors: a compiled region (``torch.compile``) can take a packing as input without specialising
    on its numbers; ``max_length`` (a host sync) is computed when asked for.
    """

    lengths: Tensor
    seq_idx: Tensor

    @staticmethod
    def from_lengths(lengths: Tensor) -> Packing:
        lengths = lengths.to(torch.int64)
        ids = torch.arange(lengths.numel(), device=lengths.device, dtype=torch.int32)
        return Packing(lengths, torch.repeat_interleave(ids, lengths))

    @property
    def max_length(self) -> int:
        """The longest video's frames (a Python int; 0 for no videos)."""
        return int(self.lengths.max().item()) if self.lengths.numel() else 0

    @property
    def num_videos(self) -> int:
        return self.lengths.numel()

    @property
    def starts(self) -> Tensor:
        """``(B,)`` index of each video's first frame in the packed axis."""
        return torch.cumsum(self.lengths, 0) - self.lengths

    def frame_positions(self) -> Tensor:
        """``(F,)`` position of each frame inside its own video."""
        return torch.arange(self.seq_idx.numel(), device=self.lengths.device) - self.starts[self.seq_idx.long()]


def downsampled_lengths(lengths: Tensor, stride: int) -> Tensor:
    """Frames left after merging every ``stride`` consecutive frames of each video: ``ceil(T / stride)``."""
    return torch.div(lengths + stride - 1, stride, rounding_mode="floor")


class AddNorm(nn.Module):
    """Pre-norm residual step: ``residual = x + residual``; returns ``(norm(residual), residual)``.

    ``x``/``residual (..., d)``; LayerNorm or RMSNorm, fused on CUDA with mamba-ssm.
    """

    def __init__(self, dim: int, eps: float = 1e-5, rms: bool = False, backend: str = "auto"):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = None if rms else nn.Parameter(torch.zeros(dim))
        self.eps, self.rms, self.backend = eps, rms, backend

    def forward(self, x: Tensor, residual: Tensor | None = None) -> tuple[Tensor, Tensor]:
        return add_norm(
            x, self.weight, self.bias, residual=residual, eps=self.eps, is_rms_norm=self.rms, prenorm=True,
            residual_in_fp32=True, backend=op_backend(self.backend, "norm"),
        )


class GatedRMSNorm(nn.Module):
    """``rmsnorm(y * silu(z)) * weight`` per group of ``group_size`` channels (Mamba2's output norm)."""

    def __init__(self, dim: int, group_size: int, eps: float = 1e-5, backend: str = "auto"):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.group_size, self.eps, self.backend = group_size, eps, backend

    def forward(self, y: Tensor, z: Tensor) -> Tensor:
        return rms_norm_gated(
            y, self.weight, z, eps=self.eps, group_size=self.group_size, norm_before_gate=False,
            backend=op_backend(self.backend, "norm"),
        )


class FeedForward(nn.Module):
    """``Linear(d, r d) -> GELU -> Linear(r d, d)`` on ``(..., d)``."""

    def __init__(self, dim: int, ratio: float):
        super().__init__()
        hidden = int(round(dim * ratio))
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: Tensor, packing: Packing | None = None) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class VideoDropPath(nn.Module):
    """Stochastic depth that drops a residual branch for whole videos (never single frames).

    ``x (F, ...)`` packed frames; with probability ``rate`` a video's branch output is zeroed,
    the rest is scaled by ``1 / (1 - rate)``. Identity in eval mode or at ``rate == 0``.
    """

    def __init__(self, rate: float = 0.0):
        super().__init__()
        self.rate = rate

    def forward(self, x: Tensor, packing: Packing) -> Tensor:
        if not self.training or self.rate <= 0.0:
            return x
        keep = 1.0 - self.rate
        video_mask = torch.empty(packing.num_videos, device=x.device, dtype=x.dtype).bernoulli_(keep) / keep
        frame_mask = video_mask[packing.seq_idx.long()]
        return x * frame_mask.view(-1, *([1] * (x.dim() - 1)))

    def extra_repr(self) -> str:
        return f"rate={self.rate:.3f}"


def init_dt_bias(num_heads: int, dt_min: float = 1e-3, dt_max: float = 0.1, floor: float = 1e-4) -> Tensor:
    """Mamba2's ``dt_bias`` init: inverse softplus of step sizes log-uniform in ``[dt_min, dt_max]``."""
    dt = torch.exp(torch.rand(num_heads) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
    dt = dt.clamp(min=floor)
    return dt + torch.log(-torch.expm1(-dt))


def init_a_log(num_heads: int, low: float = 1.0, high: float = 16.0) -> Tensor:
    """Mamba2's ``A_log`` init: ``log`` of decay rates uniform in ``[low, high]`` (``A = -exp(A_log)``)."""
    return torch.log(torch.empty(num_heads).uniform_(low, high))
