"""Spatial token mixers for one frame: four-direction Mamba2 over the patch grid, or self-attention."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from slr_models.layers.common import GatedRMSNorm, Packing, init_a_log, init_dt_bias, op_backend
from slr_models.ops import ssd_scan

Tensor = torch.Tensor
NUM_DIRECTIONS = 4


def scan_orders(grid: int) -> Tensor:
    """``(4, grid * grid + 1)`` token orders: row-major forward/backward, column-major forward/backward.

    Patches are numbered row-major ``0 .. grid*grid - 1``; the cls token (index ``grid * grid``) ends
    every order, so it reads the whole frame in each direction.
    """
    rows = torch.arange(grid * grid).view(grid, grid)
    row_major, col_major = rows.flatten(), rows.t().flatten()
    orders = torch.stack([row_major, row_major.flip(0), col_major, col_major.flip(0)])
    cls = torch.full((NUM_DIRECTIONS, 1), grid * grid)
    return torch.cat([orders, cls], dim=1)


class SpatialMamba2(nn.Module):
    """Mamba2 mixer over the patch grid of each frame, scanning it in four directions.

    The heads are split evenly over the four directions (row-major forward/backward, column-major
    forward/backward), so the layer costs one Mamba2 scan while every direction is covered:
    ``in_proj`` gives ``z``, ``x``, ``B``, ``C`` and one ``dt`` per head; ``x``, ``B``, ``C`` of the
    patches go through a depthwise ``conv_kernel`` x ``conv_kernel`` conv and SiLU (the cls token only
    through SiLU); each direction's heads read the tokens in that direction's order (all from one
    ``ssd_scan`` call, ``B``/``C`` shared by the directions); the outputs are put back in token order,
    normalised and gated with ``z`` (gated RMSNorm) and projected back to ``d_model``.

    ``(F, grid * grid + 1, d_model)`` -> same shape.
    """

    def __init__(
        self,
        d_model: int,
        grid: int,
        d_state: int = 64,
        expand: int = 2,
        headdim: int = 64,
        ngroups: int = 1,
        conv_kernel: int = 3,
        chunk_size: int = 64,
        backend: str = "auto",
    ):
        super().__init__()
        d_inner = expand * d_model
        if d_inner % (NUM_DIRECTIONS * headdim) != 0:
            raise ValueError(
                f"expand * d_model ({d_inner}) must be a multiple of 4 * headdim ({NUM_DIRECTIONS * headdim}): "
                f"the heads are split over the four scan directions"
            )
        self.nheads = d_inner // headdim
        if (self.nheads // NUM_DIRECTIONS) % ngroups != 0:
            raise ValueError(f"heads per direction ({self.nheads // NUM_DIRECTIONS}) must be a multiple of "
                             f"ngroups ({ngroups})")
        self.d_inner, self.headdim, self.ngroups, self.d_state = d_inner, headdim, ngroups, d_state
        self.grid, self.chunk_size, self.backend = grid, chunk_size, backend
        self.conv_dim = d_inner + 2 * ngroups * d_state
        self.in_proj = nn.Linear(d_model, d_inner + self.conv_dim + self.nheads, bias=False)
        self.conv2d = nn.Conv2d(self.conv_dim, self.conv_dim, conv_kernel, padding=conv_kernel // 2,
                                groups=self.conv_dim)
        self.dt_bias = nn.Parameter(init_dt_bias(self.nheads))
        self.A_log = nn.Parameter(init_a_log(self.nheads))
        self.D = nn.Parameter(torch.ones(self.nheads))
        self.norm = GatedRMSNorm(d_inner, group_size=d_inner // ngroups, backend=backend)
        self.out_proj = nn.Linear(d_inner, d_model, bias=False)
        orders = scan_orders(grid)
        # Gather indices over the flattened (token, direction) axis: row t * 4 + k of direction-ordered
        # data comes from row orders[k, t] * 4 + k of token-ordered data (and back with the inverse).
        directions = torch.arange(NUM_DIRECTIONS)
        inverse = torch.argsort(orders, dim=1)
        self.register_buffer("to_scan", (orders.t() * NUM_DIRECTIONS + directions).flatten(), persistent=False)
        self.register_buffer("to_tokens", (inverse.t() * NUM_DIRECTIONS + directions).flatten(), persistent=False)
        self.register_buffer("token_of_scan", orders.t().flatten(), persistent=False)

    @staticmethod
    def _reorder(t: Tensor, index: Tensor) -> Tensor:
        """``t (F, n, 4, k)`` -> same shape, rows re-ordered by a flattened (token, direction) index."""
        f, n, d, k = t.shape
        return t.reshape(f, n * d, k).index_select(1, index).view(f, n, d, k)

    def scan_directions(self, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """The scans before the output norm: ``tokens (F, n, d_model)`` -> ``y (F, n, 4, d_inner / 4)`` in
        token order (``y[:, :, k]`` from the heads of direction ``k``) and the gate ``z (F, n, d_inner)``."""
        f, n, _ = tokens.shape
        hw = self.grid * self.grid
        if n != hw + 1:
            raise ValueError(f"SpatialMamba2 expects {hw + 1} tokens (grid {self.grid}^2 + cls), got {n}")
        h, p, g, s, d = self.nheads, self.headdim, self.ngroups, self.d_state, NUM_DIRECTIONS
        z, xbc, dt = torch.split(self.in_proj(tokens), [self.d_inner, self.conv_dim, h], dim=-1)
        patches = xbc[:, :hw].transpose(1, 2).reshape(f, self.conv_dim, self.grid, self.grid)
        patches = self.conv2d(patches).flatten(2).transpose(1, 2)  # (F, hw, conv_dim)
        xbc = F.silu(torch.cat([patches, xbc[:, hw:]], dim=1))
        x, bc = torch.split(xbc, [self.d_inner, 2 * g * s], dim=-1)

        x = self._reorder(x.reshape(f, n, d, self.d_inner // d), self.to_scan)  # (F, n, 4, d_inner/4)
        dt = self._reorder(dt.reshape(f, n, d, h // d), self.to_scan)
        bc = bc.index_select(1, self.token_of_scan).view(f, n, d, 2 * g * s)  # each direction's own order
        B, C = torch.split(bc, [g * s, g * s], dim=-1)
        y = ssd_scan(
            x.reshape(f, n, h, p),
            dt.reshape(f, n, h),
            -torch.exp(self.A_log.float()),
            B.reshape(f, n, d * g, s),  # direction k's heads use groups k*g .. k*g + g - 1
            C.reshape(f, n, d * g, s),
            D=self.D,
            dt_bias=self.dt_bias,
            dt_softplus=True,
            chunk_size=self.chunk_size,
            backend=op_backend(self.backend, "ssd"),
        )  # (F, n, h, p): position t of direction k holds token orders[k, t]
        return self._reorder(y.view(f, n, d, self.d_inner // d), self.to_tokens), z

    def forward(self, tokens: Tensor, packing: Packing | None = None) -> Tensor:
        y, z = self.scan_directions(tokens)
        return self.out_proj(self.norm(y.reshape(z.shape), z))


class SpatialAttention(nn.Module):
    """Multi-head self-attention among the tokens of each frame: ``(F, N, d)`` -> ``(F, N, d)``."""

    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        if d_model % num_heads != 0:
            raise ValueError(f"d_model ({d_model}) must be a multiple of attention heads ({num_heads})")
        self.num_heads = num_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, tokens: Tensor, packing: Packing | None = None) -> Tensor:
        f, n, d = tokens.shape
        q, k, v = self.qkv(tokens).view(f, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)  # (F, heads, n, d / heads)
        return self.proj(out.transpose(1, 2).reshape(f, n, d))
