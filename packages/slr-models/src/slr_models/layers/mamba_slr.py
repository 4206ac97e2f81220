"""Layers of the Mamba_SLR architecture (github.com/Nirmal-Adhikari-hub/Mamba_SLR), written for slr.

Module and parameter names are the original's, so its checkpoints load with ``load_state_dict``
unchanged; every detail that changes the function is the original's too (they differ from
:mod:`slr_models.layers.spatial` / ``temporal`` in several ways, listed per class). The scans,
convs and norms go through :mod:`slr_models.ops`, so the ``reference`` / ``mamba_ssm`` / ``auto``
backends and packed videos (``seq_idx``) work as everywhere else in slr.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from slr_models.layers.common import AddNorm, FeedForward, Packing, VideoDropPath, op_backend
from slr_models.layers.spatial import NUM_DIRECTIONS, scan_orders
from slr_models.ops import causal_conv1d, ssd_scan

Tensor = torch.Tensor


def _init_ssm_params(module: nn.Module, nheads: int, dt_min=1e-3, dt_max=0.1, floor=1e-4, a_range=(1.0, 16.0)):
    """``dt_bias`` (inverse softplus of log-uniform steps), ``A_log`` (log of uniform rates), ``D = 1``."""
    dt = torch.exp(torch.rand(nheads) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=floor)
    module.dt_bias = nn.Parameter(dt + torch.log(-torch.expm1(-dt)))
    module.A_log = nn.Parameter(torch.log(torch.empty(nheads).uniform_(*a_range)))
    module.D = nn.Parameter(torch.ones(nheads))


class MambaSLRStemBlock(nn.Module):
    """``x + dwconv3x3(LN(x))``, then ``x + pwconv2(GELU(pwconv1(LN(x))))`` on ``(N, H, W, C)`` (channel-last)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=3, padding=1, groups=dim)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        x = self.dwconv(self.norm1(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1) + x
        return self.pwconv2(F.gelu(self.pwconv1(self.norm2(x)))) + x


class MambaSLRDownsample(nn.Module):
    """``LN`` then a 3x3 stride-2 conv: ``(N, H, W, C) -> (N, ceil(H/2), ceil(W/2), C')``."""

    def __init__(self, dim: int, out_dim: int, eps: float):
        super().__init__()
        self.norm = nn.LayerNorm(dim, eps=eps)
        self.downsample = nn.Conv2d(dim, out_dim, kernel_size=3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.downsample(self.norm(x).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


class MambaSLRStem(nn.Module):
    """The original's stem (no position embedding): 7x7 stride-4 conv to ``d/4`` channels, 3 blocks,
    downsample to ``d/2``, 3 blocks, downsample to ``d``: total stride 16 (its ``patch_size``).

    ``(F, in_chans, S, S) -> (F, (S/16)^2, d)`` patch tokens in row-major order.
    """

    def __init__(self, in_chans: int, d_model: int, eps: float, blocks: int = 3):
        super().__init__()
        c1, c2 = d_model // 4, d_model // 2
        self.stem = nn.Conv2d(in_chans, c1, kernel_size=7, stride=4, padding=3)
        self.stage1 = nn.Sequential(*[MambaSLRStemBlock(c1, eps) for _ in range(blocks)])
        self.downsample1 = MambaSLRDownsample(c1, c2, eps)
        self.stage2 = nn.Sequential(*[MambaSLRStemBlock(c2, eps) for _ in range(blocks)])
        self.downsample2 = MambaSLRDownsample(c2, d_model, eps)

    def forward(self, frames: Tensor) -> Tensor:
        x = self.stem(frames).permute(0, 2, 3, 1)
        x = self.downsample2(self.stage2(self.downsample1(self.stage1(x))))
        return x.flatten(1, 2)


class MambaSLRSpatial(nn.Module):
    """The original's spatial Mamba2 mixer over ``grid x grid`` patches + cls (the cls token last).

    Differs from :class:`~slr_models.layers.SpatialMamba2`: no ``z`` gate (``in_proj`` gives
    ``[x, B, C, dt]``) and a plain LayerNorm over ``d_inner`` before ``out_proj``; each of the four
    directions has its own ``ngroups / 4`` groups of ``B``/``C`` (its channel quarter, as
    ``B.chunk(4)``); the depthwise 3x3 conv (with bias) and SiLU act on the patch tokens only, the
    cls token's ``x, B, C`` enter the scan unactivated. Direction ``k`` scans the tokens in
    ``scan_orders(grid)[k]`` with its quarter of the heads (one ``ssd_scan`` call for all four).

    ``(F, grid * grid + 1, d_model) -> same shape``.
    """

    def __init__(self, d_model: int, grid: int, d_state: int = 16, expand: int = 2, headdim: int = 64,
                 ngroups: int = 4, d_conv: int = 3, chunk_size: int = 128, backend: str = "auto"):
        super().__init__()
        self.d_inner = expand * d_model
        if ngroups % NUM_DIRECTIONS or self.d_inner % headdim or (self.d_inner // headdim) % NUM_DIRECTIONS:
            raise ValueError(f"MambaSLRSpatial needs ngroups ({ngroups}) and heads (expand * d_model / headdim = "
                             f"{self.d_inner / headdim:g}) divisible by 4")
        self.nheads = self.d_inner // headdim
        if (self.nheads // NUM_DIRECTIONS) % (ngroups // NUM_DIRECTIONS):
            raise ValueError(f"heads per direction ({self.nheads // 4}) must be a multiple of groups per "
                             f"direction ({ngroups // 4})")
        self.headdim, self.ngroups, self.d_state, self.grid = headdim, ngroups, d_state, grid
        self.chunk_size, self.backend = chunk_size, backend
        self.conv_dim = self.d_inner + 2 * ngroups * d_state
        self.in_proj = nn.Linear(d_model, self.conv_dim + self.nheads, bias=False)
        self.conv2d = nn.Conv2d(self.conv_dim, self.conv_dim, d_conv, padding=(d_conv - 1) // 2, groups=self.conv_dim)
        _init_ssm_params(self, self.nheads)
        self.norm = nn.LayerNorm(self.d_inner, eps=1e-5)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)
        orders = scan_orders(grid)
        directions = torch.arange(NUM_DIRECTIONS)
        inverse = torch.argsort(orders, dim=1)
        # The original keeps its scan orders as (persistent) buffers: they are in its checkpoints.
        self.register_buffer("scan_indices", orders.clone())
        self.register_buffer("inverse_scan_indices", inverse.clone())
        self.register_buffer("to_scan", (orders.t() * NUM_DIRECTIONS + directions).flatten(), persistent=False)
        self.register_buffer("to_tokens", (inverse.t() * NUM_DIRECTIONS + directions).flatten(), persistent=False)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        for name in ("scan_indices", "inverse_scan_indices"):
            stored = state_dict.get(prefix + name)
            if stored is not None and (stored.shape != getattr(self, name).shape
                                       or not torch.equal(stored.to(torch.int64), getattr(self, name))):
                raise ValueError(f"{prefix}{name} in the checkpoint is not the scan order of a "
                                 f"{self.grid}x{self.grid} patch grid (a different img_size or architecture)")
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @staticmethod
    def _reorder(t: Tensor, index: Tensor) -> Tensor:
        """``t (F, n, 4, k)``: rows re-ordered by a flattened (token, direction) index."""
        f, n, d, k = t.shape
        return t.reshape(f, n * d, k).index_select(1, index).view(f, n, d, k)

    def forward(self, tokens: Tensor, packing: Packing | None = None) -> Tensor:
        f, n, _ = tokens.shape
        hw = self.grid * self.grid
        if n != hw + 1:
            raise ValueError(f"MambaSLRSpatial expects {hw + 1} tokens (grid {self.grid}^2 + cls), got {n}")
        h, g, s, d = self.nheads, self.ngroups, self.d_state, NUM_DIRECTIONS
        xbc, dt = torch.split(self.in_proj(tokens), [self.conv_dim, h], dim=-1)
        patches = xbc[:, :hw].transpose(1, 2).reshape(f, self.conv_dim, self.grid, self.grid)
        patches = F.silu(self.conv2d(patches)).flatten(2).transpose(1, 2)  # (F, hw, conv_dim)
        xbc = torch.cat([patches, xbc[:, hw:]], dim=1)  # the cls token is not activated
        x, B, C = torch.split(xbc, [self.d_inner, g * s, g * s], dim=-1)
        # Channel quarter k of x / B / C / dt belongs to direction k; gather each in its own order.
        x = self._reorder(x.reshape(f, n, d, -1), self.to_scan)
        B = self._reorder(B.reshape(f, n, d, -1), self.to_scan)
        C = self._reorder(C.reshape(f, n, d, -1), self.to_scan)
        dt = self._reorder(dt.reshape(f, n, d, -1), self.to_scan)
        y = ssd_scan(
            x.reshape(f, n, h, self.headdim), dt.reshape(f, n, h), -torch.exp(self.A_log.float()),
            B.reshape(f, n, g, s), C.reshape(f, n, g, s), D=self.D, dt_bias=self.dt_bias, dt_softplus=True,
            chunk_size=self.chunk_size, backend=op_backend(self.backend, "ssd"),
        )
        y = self._reorder(y.reshape(f, n, d, -1), self.to_tokens).reshape(f, n, self.d_inner)
        return self.out_proj(self.norm(y))


class MambaSLRTemporal(nn.Module):
    """The original's bidirectional temporal Mamba2 mixer over packed frames, per token position.

    Differs from :class:`~slr_models.layers.TemporalMamba2`: one ``in_proj`` giving ``[x, B, C, dt]``
    (no gate), whose ``[x, B, C]`` part is cut into a forward and a backward half **by position**
    (the first ``(d_inner + 2 g n) / 2`` channels feed the forward branch, the rest the backward one;
    each half is then split into ``x, B, C`` of sizes ``d_inner/2, g n/2, g n/2``), so the halves
    mix roles; each branch has its own width-``d_conv`` causal conv (``conv1d_fwd`` / ``conv1d_bwd``,
    with bias) + SiLU and half of the heads and groups; the backward branch runs on the time-reversed
    sequence; the two outputs are concatenated (not summed), LayerNorm'd over ``d_inner`` and
    projected by one ``out_proj``.

    ``tokens (N, F, d_model)`` (token positions as the batch), ``seq_idx (N, F)`` -> ``(N, F, d_model)``.
    """

    def __init__(self, d_model: int, d_state: int = 32, expand: int = 2, headdim: int = 64, ngroups: int = 2,
                 d_conv: int = 4, chunk_size: int = 128, backend: str = "auto"):
        super().__init__()
        self.d_inner = expand * d_model
        if self.d_inner % (2 * headdim) or ngroups % 2 or (self.d_inner // headdim // 2) % (ngroups // 2):
            raise ValueError(f"MambaSLRTemporal needs an even number of heads (expand * d_model / headdim = "
                             f"{self.d_inner / headdim:g}) and of groups ({ngroups}), heads per branch a multiple "
                             f"of groups per branch")
        self.nheads, self.headdim, self.ngroups, self.d_state = self.d_inner // headdim, headdim, ngroups, d_state
        self.chunk_size, self.backend = chunk_size, backend
        self.conv_dim = (self.d_inner + 2 * ngroups * d_state) // 2
        self.in_proj = nn.Linear(d_model, 2 * self.conv_dim + self.nheads, bias=False)
        self.conv1d_fwd = nn.Conv1d(self.conv_dim, self.conv_dim, d_conv, padding=d_conv - 1, groups=self.conv_dim)
        self.conv1d_bwd = nn.Conv1d(self.conv_dim, self.conv_dim, d_conv, padding=d_conv - 1, groups=self.conv_dim)
        _init_ssm_params(self, self.nheads)
        self.norm = nn.LayerNorm(self.d_inner, eps=1e-5)
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def _branch(self, xbc: Tensor, dt: Tensor, seq_idx: Tensor, conv: nn.Conv1d, heads: slice) -> Tensor:
        n_tok, f, _ = xbc.shape
        g, s, h = self.ngroups // 2, self.d_state, self.nheads // 2
        xbc = causal_conv1d(xbc.transpose(1, 2), conv.weight.squeeze(1), conv.bias, seq_idx=seq_idx,
                            activation="silu", backend=op_backend(self.backend, "conv")).transpose(1, 2)
        x, B, C = torch.split(xbc, [self.d_inner // 2, g * s, g * s], dim=-1)
        y = ssd_scan(
            x.reshape(n_tok, f, h, self.headdim), dt, -torch.exp(self.A_log[heads].float()),
            B.reshape(n_tok, f, g, s), C.reshape(n_tok, f, g, s), D=self.D[heads], dt_bias=self.dt_bias[heads],
            dt_softplus=True, chunk_size=self.chunk_size, seq_idx=seq_idx, backend=op_backend(self.backend, "ssd"),
        )
        return y.reshape(n_tok, f, self.d_inner // 2)

    def forward(self, tokens: Tensor, seq_idx: Tensor) -> Tensor:
        half = self.nheads // 2
        xbc, dt = torch.split(self.in_proj(tokens), [2 * self.conv_dim, self.nheads], dim=-1)
        xbc_fwd, xbc_bwd = xbc.chunk(2, dim=-1)
        y_fwd = self._branch(xbc_fwd, dt[..., :half], seq_idx, self.conv1d_fwd, slice(0, half))
        y_bwd = self._branch(xbc_bwd.flip(1), dt[..., half:].flip(1), seq_idx.flip(1), self.conv1d_bwd,
                             slice(half, None)).flip(1)
        return self.out_proj(self.norm(torch.cat([y_fwd, y_bwd], dim=-1)))


class MambaSLRAttention(nn.Module):
    """Multi-head self-attention among the tokens of each frame, as mamba-ssm's ``MHA`` with its
    defaults (``in_proj`` with bias giving ``[q, k, v]``, non-causal scaled dot product, ``out_proj``
    with bias). ``(F, N, d) -> (F, N, d)``."""

    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of attention heads ({num_heads})")
        self.num_heads = num_heads
        self.in_proj = nn.Linear(d_model, 3 * d_model)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, tokens: Tensor, packing: Packing | None = None) -> Tensor:
        f, n, d = tokens.shape
        q, k, v = self.in_proj(tokens).view(f, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        return self.out_proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(f, n, d))


class MambaSLRMLP(FeedForward):
    """``fc1 -> GELU -> fc2`` (the original's ``FeedForwardNN``; same parameter names)."""


class MambaSLRBlock(nn.Module):
    """``spatial -> temporal -> mlp``, each ``residual += hidden; hidden = drop_path(mixer(LN(residual)))``
    with the fused add + LayerNorm of mamba-ssm (residual kept in float32).

    Takes and returns ``(hidden, residual)`` on packed frame tokens ``(F, N, d)``; the temporal mixer
    sees each token position as one sequence over the packed frames. Drop path drops a sub-layer
    for whole videos (the original drops it per frame in the spatial and MLP sub-layers and per
    token position in the temporal one).
    """

    def __init__(self, d_model: int, spatial: nn.Module, temporal: MambaSLRTemporal, mlp_hidden: int,
                 drop_path: float, eps: float, backend: str):
        super().__init__()
        self.spatial_mixer, self.spatial_norm = spatial, AddNorm(d_model, eps, backend=backend)
        self.temporal_mixer, self.temporal_norm = temporal, AddNorm(d_model, eps, backend=backend)
        self.mlp, self.mlp_norm = MambaSLRMLP(d_model, mlp_hidden / d_model), AddNorm(d_model, eps, backend=backend)
        self.drop_path = VideoDropPath(drop_path)

    def forward(self, hidden: Tensor, residual: Tensor | None, packing: Packing) -> tuple[Tensor, Tensor]:
        normed, residual = self.spatial_norm(hidden, residual)
        hidden = self.drop_path(self.spatial_mixer(normed, packing), packing)
        normed, residual = self.temporal_norm(hidden, residual)
        n_tok = normed.shape[1]
        seq_idx = packing.seq_idx.view(1, -1).expand(n_tok, -1)
        mixed = self.temporal_mixer(normed.transpose(0, 1).contiguous(), seq_idx).transpose(0, 1)
        hidden = self.drop_path(mixed, packing)
        normed, residual = self.mlp_norm(hidden, residual)
        return self.drop_path(self.mlp(normed), packing), residual
