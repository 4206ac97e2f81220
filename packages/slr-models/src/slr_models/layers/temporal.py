"""Temporal layers on packed videos: bidirectional Mamba2 per token position, strided downsampling.

Frames of all videos are packed along one time axis; a layer sees tokens ``(F, N, d)`` with
``F = sum(lengths)`` and treats each of the ``N`` token positions as one sequence of length ``F``
whose ``seq_idx`` marks the video of each frame: no state, conv tap or pooling window ever
crosses from one video into another.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from slr_models.layers.common import (
    GatedRMSNorm,
    Packing,
    downsampled_lengths,
    init_a_log,
    init_dt_bias,
    op_backend,
)
from slr_models.ops import causal_conv1d, ssd_scan

Tensor = torch.Tensor


class TemporalScanBranch(nn.Module):
    """One direction of :class:`TemporalMamba2`: a Mamba2 mixer over packed time.

    ``in_proj`` -> ``z``, ``x``, ``B``, ``C``, ``dt``; causal depthwise conv (width ``d_conv``, never across a
    ``seq_idx`` change) + SiLU on ``x``, ``B``, ``C``; SSD scan with ``seq_idx``; gated RMSNorm with ``z``;
    ``out_proj``. ``tokens (N, F, d_model)``, ``seq_idx (N, F)`` -> ``(N, F, d_model)``.
    """

    def __init__(self, d_model: int, d_inner: int, headdim: int, ngroups: int, d_state: int, d_conv: int,
                 chunk_size: int, backend: str):
        super().__init__()
        self.nheads = d_inner // headdim
        self.d_inner, self.headdim, self.ngroups, self.d_state = d_inner, headdim, ngroups, d_state
        self.chunk_size, self.backend = chunk_size, backend
        self.conv_dim = d_inner + 2 * ngroups * d_state
        self.in_proj = nn.Linear(d_model, d_inner + self.conv_dim + self.nheads, bias=False)
        self.conv_weight = nn.Parameter(torch.empty(self.conv_dim, d_conv).uniform_(-d_conv**-0.5, d_conv**-0.5))
        self.conv_bias = nn.Parameter(torch.zeros(self.conv_dim))
        self.dt_bias = nn.Parameter(init_dt_bias(self.nheads))
        self.A_log = nn.Parameter(init_a_log(self.nheads))
        self.D = nn.Parameter(torch.ones(self.nheads))
        self.norm = GatedRMSNorm(d_inner, group_size=d_inner // ngroups, backend=backend)
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def forward(self, tokens: Tensor, seq_idx: Tensor) -> Tensor:
        n_tok, f, _ = tokens.shape
        g, s = self.ngroups, self.d_state
        z, xbc, dt = torch.split(self.in_proj(tokens), [self.d_inner, self.conv_dim, self.nheads], dim=-1)
        xbc = causal_conv1d(
            xbc.transpose(1, 2), self.conv_weight, self.conv_bias, seq_idx=seq_idx, activation="silu",
            backend=op_backend(self.backend, "conv"),
        ).transpose(1, 2)  # (N, F, conv_dim); channel-last, as the CUDA kernel needs with seq_idx
        x, B, C = torch.split(xbc, [self.d_inner, g * s, g * s], dim=-1)
        y = ssd_scan(
            x.reshape(n_tok, f, self.nheads, self.headdim),
            dt,
            -torch.exp(self.A_log.float()),
            B.reshape(n_tok, f, g, s),
            C.reshape(n_tok, f, g, s),
            D=self.D,
            dt_bias=self.dt_bias,
            dt_softplus=True,
            chunk_size=self.chunk_size,
            seq_idx=seq_idx,
            backend=op_backend(self.backend, "ssd"),
        )
        return self.out_proj(self.norm(y.reshape(n_tok, f, self.d_inner), z))


class TemporalMamba2(nn.Module):
    """Bidirectional Mamba2 over time for every token position of packed videos.

    Each token position is one sequence over the ``F`` packed frames. A forward branch scans it with
    ``seq_idx``; a backward branch scans the time-reversed sequence (reversing ``seq_idx`` with it
    keeps each video contiguous), and its output is reversed back; the two are summed. Each branch
    gets half of the ``expand * d_model`` inner channels, so the layer costs one Mamba2 mixer.

    ``(F, N, d_model)`` + :class:`Packing` -> ``(F, N, d_model)``.
    """

    def __init__(
        self,
        d_model: int,
        d_state: int = 64,
        expand: int = 2,
        headdim: int = 64,
        ngroups: int = 1,
        d_conv: int = 4,
        chunk_size: int = 64,
        backend: str = "auto",
    ):
        super().__init__()
        d_inner = expand * d_model
        if d_inner % (2 * headdim) != 0:
            raise ValueError(f"expand * d_model ({d_inner}) must be a multiple of 2 * headdim ({2 * headdim}): "
                             f"the heads are split over the two directions")
        if (d_inner // (2 * headdim)) % ngroups != 0:
            raise ValueError(f"heads per direction ({d_inner // (2 * headdim)}) must be a multiple of "
                             f"ngroups ({ngroups})")
        branch = dict(d_model=d_model, d_inner=d_inner // 2, headdim=headdim, ngroups=ngroups, d_state=d_state,
                      d_conv=d_conv, chunk_size=chunk_size, backend=backend)
        self.forward_scan = TemporalScanBranch(**branch)
        self.backward_scan = TemporalScanBranch(**branch)

    def forward(self, tokens: Tensor, packing: Packing) -> Tensor:
        f, n_tok, _ = tokens.shape
        if packing.seq_idx.numel() != f:
            raise ValueError(f"TemporalMamba2: {f} frames but packing describes {packing.seq_idx.numel()}")
        series = tokens.transpose(0, 1).contiguous()  # token positions become the batch: (N, F, d)
        seq_idx = packing.seq_idx.view(1, f).expand(n_tok, f)
        y = self.forward_scan(series, seq_idx)
        y = y + self.backward_scan(series.flip(1), seq_idx.flip(1)).flip(1)
        return y.transpose(0, 1)


class TemporalDownsample(nn.Module):
    """Merge every ``stride`` consecutive frames of each video with a learned depthwise temporal conv
    (kernel = stride), never mixing videos; a video of ``T`` frames keeps ``ceil(T / stride)``
    (the last window of a video may be shorter: its missing taps read zero).

    ``(F, N, d)`` + :class:`Packing` -> ``(F', N, d)`` + the downsampled :class:`Packing`.
    """

    def __init__(self, d_model: int, stride: int):
        super().__init__()
        if stride < 2:
            raise ValueError(f"temporal downsampling stride must be >= 2, got {stride}")
        self.stride = stride
        self.weight = nn.Parameter(torch.full((stride, d_model), 1.0 / stride))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, tokens: Tensor, packing: Packing) -> tuple[Tensor, Packing]:
        s = self.stride
        out_packing = Packing.from_lengths(downsampled_lengths(packing.lengths, s))
        video = out_packing.seq_idx.long()  # (F',)
        local = out_packing.frame_positions()  # (F',) output position inside its video
        taps = local.unsqueeze(1) * s + torch.arange(s, device=tokens.device)  # (F', s) input positions
        valid = taps < packing.lengths[video].unsqueeze(1)
        index = packing.starts[video].unsqueeze(1) + torch.where(valid, taps, torch.zeros_like(taps))
        gathered = tokens[index]  # (F', s, N, d)
        weights = self.weight * valid.unsqueeze(-1).to(tokens.dtype)  # (F', s, d)
        return (gathered * weights.unsqueeze(2)).sum(dim=1) + self.bias, out_packing
