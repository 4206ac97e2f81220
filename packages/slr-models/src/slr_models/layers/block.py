"""Pre-norm residual block: spatial mixer -> temporal mixer -> FFN, each with drop path."""

from __future__ import annotations

import torch
import torch.nn as nn

from slr_models.layers.common import AddNorm, Packing, VideoDropPath

Tensor = torch.Tensor


class SLRBlock(nn.Module):
    """Three pre-norm residual sub-layers on packed frame tokens ``(F, N, d)``.

    Uses the fused add+norm convention of mamba-ssm: the block takes and returns ``(hidden, residual)``
    where the residual stream is ``residual + hidden``; each sub-layer computes
    ``residual = residual + hidden``, ``hidden = drop_path(mixer(norm(residual)))``. Pass
    ``residual=None`` to the first block; the model's final norm adds the last ``hidden``.
    """

    def __init__(
        self,
        d_model: int,
        spatial: nn.Module,
        temporal: nn.Module | None,
        ffn: nn.Module,
        drop_path: float = 0.0,
        norm_eps: float = 1e-5,
        rms_norm: bool = False,
        backend: str = "auto",
    ):
        super().__init__()
        self.norm_spatial = AddNorm(d_model, norm_eps, rms_norm, backend)
        self.spatial = spatial
        self.norm_temporal = AddNorm(d_model, norm_eps, rms_norm, backend) if temporal is not None else None
        self.temporal = temporal
        self.norm_ffn = AddNorm(d_model, norm_eps, rms_norm, backend)
        self.ffn = ffn
        self.drop_path = VideoDropPath(drop_path)

    def sublayers(self) -> list[tuple[AddNorm, nn.Module]]:
        pairs = [(self.norm_spatial, self.spatial)]
        if self.temporal is not None:
            pairs.append((self.norm_temporal, self.temporal))
        pairs.append((self.norm_ffn, self.ffn))
        return pairs

    def forward(self, hidden: Tensor, residual: Tensor | None, packing: Packing) -> tuple[Tensor, Tensor]:
        for norm, mixer in self.sublayers():
            normed, residual = norm(hidden, residual)
            hidden = self.drop_path(mixer(normed, packing), packing)
        return hidden, residual
