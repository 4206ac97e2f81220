"""ConvNeXt-style stem: frame ``(F, C, H, W)`` -> patch tokens ``(F, 1 + h w, d)`` (cls token last)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

Tensor = torch.Tensor


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a ``(N, C, H, W)`` map."""

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps).permute(
            0, 3, 1, 2
        )


class ConvNeXtBlock(nn.Module):
    """``x + gamma * pw2(GELU(pw1(LN(dwconv7x7(x)))))`` on ``(N, C, H, W)``."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0, layer_scale: float = 1e-2):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        hidden = int(dim * mlp_ratio)
        self.pw1 = nn.Linear(dim, hidden)
        self.pw2 = nn.Linear(hidden, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: Tensor) -> Tensor:
        h = self.dwconv(x).permute(0, 2, 3, 1)  # (N, H, W, C)
        h = self.pw2(F.gelu(self.pw1(self.norm(h)))) * self.gamma
        return x + h.permute(0, 3, 1, 2)


class ConvNeXtStem(nn.Module):
    """Patchify conv (kernel = stride = 4), then per stage ``blocks`` ConvNeXt blocks and a 2x2 strided
    downsampling conv; the last stage ends at ``d_model`` channels.

    With ``stage_dims = (c0, c1, ..., ck)`` the total stride is ``4 * 2 ** (k + 1)`` and the output grid
    is ``img_size / stride`` on each side; with ``stage_dims = ()`` the patchify conv maps straight to
    ``d_model`` (stride 4). Tokens get a learned position embedding and a learned cls token appended
    after the patches (row-major order).

    Input ``(F, in_chans, img_size, img_size)`` -> ``(F, grid * grid + 1, d_model)``.
    """

    def __init__(self, in_chans: int, img_size: int, d_model: int, stage_dims: tuple[int, ...], blocks: int = 1):
        super().__init__()
        self.stride = 4 * 2 ** len(stage_dims)
        if img_size % self.stride != 0:
            raise ValueError(
                f"img_size {img_size} must be a multiple of the stem stride {self.stride} "
                f"(4 * 2**len(stem_dims) with stem_dims={stage_dims})"
            )
        self.grid = img_size // self.stride
        dims = (*stage_dims, d_model)
        self.patchify = nn.Conv2d(in_chans, dims[0], kernel_size=4, stride=4)
        self.patchify_norm = LayerNorm2d(dims[0], eps=1e-6)
        stages = []
        for dim, next_dim in zip(dims[:-1], dims[1:]):
            stages.append(
                nn.Sequential(
                    *[ConvNeXtBlock(dim) for _ in range(blocks)],
                    LayerNorm2d(dim, eps=1e-6),
                    nn.Conv2d(dim, next_dim, kernel_size=2, stride=2),
                )
            )
        self.stages = nn.Sequential(*stages)
        self.num_patches = self.grid * self.grid
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_patches + 1, d_model))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d_model))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def forward(self, frames: Tensor) -> Tensor:
        x = self.stages(self.patchify_norm(self.patchify(frames)))  # (F, d, grid, grid)
        tokens = x.flatten(2).transpose(1, 2)  # (F, grid * grid, d)
        cls = self.cls_token.expand(tokens.shape[0], -1, -1)
        return torch.cat([tokens, cls], dim=1) + self.pos_embed
