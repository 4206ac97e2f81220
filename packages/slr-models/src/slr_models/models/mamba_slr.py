"""The Mamba_SLR network (github.com/Nirmal-Adhikari-hub/Mamba_SLR) as an slr model family.

``create_model("mamba_slr_base")`` builds what its ``slr/exp/pheonix-2014/run_phoenix.sh`` trains
(57,154,016 parameters for 1296 classes); its checkpoints load without renaming (see
:mod:`slr_models.interop`). The model keeps the :class:`~slr_models.models.SLRMambaCTC` contract
(packed frames, ``seq_idx``, backends, training helpers), so the Trainer, decoding, ``evaluate``
and ``predict`` use it unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from slr_models.errors import ModelConfigError
from slr_models.layers.common import MODEL_BACKENDS, AddNorm, Packing
from slr_models.layers.mamba_slr import (
    MambaSLRAttention,
    MambaSLRBlock,
    MambaSLRSpatial,
    MambaSLRStem,
    MambaSLRTemporal,
)
from slr_models.models.config import ModelConfigMixin
from slr_models.models.ctc import CTCOutput, apply_backend, check_packed_inputs, pad_log_probs

Tensor = torch.Tensor
PATCH_SIZE = 16  # the stem's total stride (the original asserts patch_size == 16)


@dataclass(frozen=True)
class MambaSLRConfig(ModelConfigMixin):
    """Everything needed to rebuild a :class:`MambaSLRCTC` (weights aside); the original's defaults.

    Input frames ``(F, in_chans, img_size, img_size)`` (+ ``heatmap_channels`` keypoint heatmaps
    stacked as extra stem channels, an slr addition; 0 in the original) -> stem (stride 16) to
    ``(img_size/16)^2`` patches + a cls token (last) -> ``depth`` blocks of [spatial Mamba2 (or
    multi-head attention at ``attention_layers``), temporal bidirectional Mamba2, MLP] -> final
    LayerNorm -> ``[mean of patches, cls]`` -> dropout ``head_drop_rate`` -> linear -> log-softmax.
    """

    FAMILY: ClassVar[str] = "mamba_slr"

    name: str = "mamba_slr_base"
    num_classes: int = 1296
    img_size: int = 224
    in_chans: int = 3
    heatmap_channels: int = 0
    d_model: int = 512
    depth: int = 12
    mlp_ratio: float = 4.0
    expand: int = 2
    headdim: int = 64
    spatial_d_state: int = 16
    spatial_ngroups: int = 4
    spatial_conv: int = 3
    temporal_d_state: int = 32
    temporal_ngroups: int = 2
    temporal_conv: int = 4
    chunk_size: int = 128
    attention_layers: tuple[int, ...] = (4,)
    attention_heads: int | None = None
    drop_path_rate: float = 0.4
    head_drop_rate: float = 0.1
    norm_eps: float = 1e-5
    backend: str = "auto"

    def __post_init__(self) -> None:
        object.__setattr__(self, "attention_layers", tuple(int(v) for v in self.attention_layers))
        positive = ("num_classes", "img_size", "in_chans", "d_model", "depth", "expand", "headdim", "spatial_d_state",
                    "spatial_ngroups", "spatial_conv", "temporal_d_state", "temporal_ngroups", "temporal_conv",
                    "chunk_size")
        for name in positive:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ModelConfigError(f"MambaSLRConfig.{name} must be a positive int, got {value!r}")
        if self.num_classes < 2:
            raise ModelConfigError(
                f"MambaSLRConfig.num_classes must be >= 2 (blank + 1 gloss), got {self.num_classes}"
            )
        if self.heatmap_channels < 0:
            raise ModelConfigError("MambaSLRConfig.heatmap_channels must be >= 0")
        if self.img_size % PATCH_SIZE:
            raise ModelConfigError(f"MambaSLRConfig.img_size {self.img_size} must be a multiple of {PATCH_SIZE} "
                             "(the stem's stride)")
        if self.d_model % 4:
            raise ModelConfigError(
                f"MambaSLRConfig.d_model {self.d_model} must be a multiple of 4 (stem widths d/4, d/2)"
            )
        d_inner = self.expand * self.d_model
        if d_inner % (4 * self.headdim):
            raise ModelConfigError(f"expand * d_model ({d_inner}) must be a multiple of 4 * headdim ({4 * self.headdim}): "
                             "the spatial heads are split over four scan directions")
        if self.spatial_ngroups % 4 or (d_inner // self.headdim // 4) % (self.spatial_ngroups // 4):
            raise ModelConfigError(f"spatial_ngroups ({self.spatial_ngroups}) must be a multiple of 4 whose quarter "
                             f"divides the heads per direction ({d_inner // self.headdim // 4})")
        if self.temporal_ngroups % 2 or (d_inner // self.headdim // 2) % (self.temporal_ngroups // 2):
            raise ModelConfigError(f"temporal_ngroups ({self.temporal_ngroups}) must be even, its half dividing the heads "
                             f"per branch ({d_inner // self.headdim // 2})")
        if (d_inner + 2 * self.temporal_ngroups * self.temporal_d_state) % 2:
            raise ModelConfigError("d_inner + 2 * temporal_ngroups * temporal_d_state must be even")
        if any(not 0 <= i < self.depth for i in self.attention_layers):
            raise ModelConfigError(
                f"attention_layers {self.attention_layers} must be block indices in [0, {self.depth})"
            )
        if self.attention_layers and self.d_model % self.heads_of_attention:
            raise ModelConfigError(f"d_model ({self.d_model}) must be a multiple of attention_heads "
                             f"({self.heads_of_attention})")
        if not 0.0 <= self.drop_path_rate < 1.0 or not 0.0 <= self.head_drop_rate < 1.0:
            raise ModelConfigError("drop_path_rate and head_drop_rate must be in [0, 1)")
        if self.mlp_ratio <= 0:
            raise ModelConfigError(f"mlp_ratio must be > 0, got {self.mlp_ratio}")
        if self.backend not in MODEL_BACKENDS:
            raise ModelConfigError(f"backend must be one of {MODEL_BACKENDS}, got {self.backend!r}")

    @property
    def heads_of_attention(self) -> int:
        """Attention heads (the original: ``d_model // headdim``)."""
        return self.attention_heads if self.attention_heads is not None else max(1, self.d_model // self.headdim)

    @property
    def grid(self) -> int:
        return self.img_size // PATCH_SIZE

    @property
    def temporal_reduction(self) -> int:
        return 1


def _trunc_normal_fan_in(weight: Tensor) -> None:
    """LeCun-normal (std ``1 / sqrt(fan_in)``, truncated at 2 std), timm's ``lecun_normal_``."""
    fan_in = weight[0].numel()
    nn.init.trunc_normal_(weight, std=math.sqrt(1.0 / fan_in) / 0.87962566103423978, a=-2.0, b=2.0)


class MambaSLRCTC(nn.Module):
    """Mamba_SLR CSLR model: ``forward(frames (F, C, H, W), lengths (B,), seq_idx=None, heatmaps=None)
    -> CTCOutput(log_probs (T_max, B, V), lengths (B,))`` with the frames of ``B`` videos packed."""

    def __init__(self, config: MambaSLRConfig):
        super().__init__()
        self.config = c = config
        self.patch_embed = MambaSLRStem(c.in_chans + c.heatmap_channels, c.d_model, c.norm_eps)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, c.d_model))
        rates = self._drop_path_rates(c.drop_path_rate)
        self.layers = nn.ModuleList(self._make_block(i, rates[i]) for i in range(c.depth))
        self.norm_f = AddNorm(c.d_model, c.norm_eps, backend=c.backend)
        self.head_drop = nn.Dropout(c.head_drop_rate) if c.head_drop_rate > 0 else nn.Identity()
        self.head = nn.Linear(2 * c.d_model, c.num_classes)
        self._init_weights()

    def _make_block(self, index: int, drop_path: float) -> MambaSLRBlock:
        c = self.config
        if index in c.attention_layers:
            spatial: nn.Module = MambaSLRAttention(c.d_model, c.heads_of_attention)
        else:
            spatial = MambaSLRSpatial(c.d_model, c.grid, c.spatial_d_state, c.expand, c.headdim, c.spatial_ngroups,
                                      c.spatial_conv, c.chunk_size, c.backend)
        temporal = MambaSLRTemporal(c.d_model, c.temporal_d_state, c.expand, c.headdim, c.temporal_ngroups,
                                    c.temporal_conv, c.chunk_size, c.backend)
        return MambaSLRBlock(c.d_model, spatial, temporal, int(round(c.mlp_ratio * c.d_model)), drop_path,
                             c.norm_eps, c.backend)

    def _init_weights(self) -> None:
        """The original's initialisation: stem and head as Vim's ``segm_init_weights``, cls token
        ``N(0, 0.02)``, zero Linear biases, ``out_proj``/``fc2`` weights Kaiming-uniform / ``sqrt(3 depth)``."""
        for module in (*self.patch_embed.modules(), self.head):
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
            elif isinstance(module, nn.Conv2d):
                _trunc_normal_fan_in(module.weight)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for module in self.layers.modules():
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            for name in ("out_proj", "fc2"):
                child = getattr(module, name, None)
                if isinstance(child, nn.Linear):
                    nn.init.kaiming_uniform_(child.weight, a=math.sqrt(5))
                    with torch.no_grad():
                        child.weight /= math.sqrt(3 * self.config.depth)

    def _drop_path_rates(self, rate: float) -> list[float]:
        depth = self.config.depth
        return [rate * i / max(depth - 1, 1) for i in range(depth)]

    def forward_features(self, frames: Tensor, lengths: Tensor, seq_idx: Tensor | None = None,
                         heatmaps: Tensor | None = None) -> tuple[Tensor, Packing]:
        """Per-frame features ``(F, 2 d_model)`` (``[mean of patch tokens, cls]`` after the final norm)."""
        c = self.config
        packing = check_packed_inputs(frames, lengths, seq_idx, heatmaps, c.in_chans, c.img_size, c.heatmap_channels)
        if heatmaps is not None:
            maps = F.interpolate(heatmaps.to(frames.dtype), size=(c.img_size, c.img_size), mode="bilinear",
                                 align_corners=False)
            frames = torch.cat([frames, maps], dim=1)
        tokens = self.patch_embed(frames)  # (F, hw, d)
        hidden = torch.cat([tokens, self.cls_token.expand(tokens.shape[0], -1, -1)], dim=1)
        residual = None
        for layer in self.layers:
            hidden, residual = layer(hidden, residual, packing)
        normed = self.norm_f(hidden, residual)[0]
        return torch.cat([normed[:, :-1].mean(dim=1), normed[:, -1]], dim=-1), packing

    def forward(self, frames: Tensor, lengths: Tensor, seq_idx: Tensor | None = None,
                heatmaps: Tensor | None = None) -> CTCOutput:
        features, packing = self.forward_features(frames, lengths, seq_idx, heatmaps)
        return pad_log_probs(self.head(self.head_drop(features)), packing)

    # ---------------------------------------------------------------------- training helpers
    def output_lengths(self, lengths: Tensor | list[int]) -> Tensor:
        """No temporal downsampling: one output per input frame."""
        return torch.as_tensor(lengths, dtype=torch.int64).clone()

    @property
    def num_decay_layers(self) -> int:
        return self.config.depth + 2

    def layer_decay_id(self, param_name: str) -> int:
        """Layer-wise lr decay groups exactly as the original's ``get_num_layer_for_model``: 0 for the
        stem and cls token; ``i + 1`` for the spatial mixer/norm and MLP/norm of block ``i``; the last
        group (the head's full lr) for everything else: the final norm, the head and **every temporal
        mixer and norm** (the original's grouping; its temporal layers train at the head's rate)."""
        if param_name == "cls_token" or param_name.startswith("patch_embed."):
            return 0
        if param_name.startswith("layers.") and ("spatial" in param_name or "mlp" in param_name):
            return int(param_name.split(".")[1]) + 1
        if param_name.startswith(("layers.", "norm_f.", "head.")):
            return self.num_decay_layers - 1
        raise ValueError(f"layer_decay_id: {param_name!r} is not a parameter name of this model")

    def no_weight_decay(self) -> set[str]:
        """The cls token (the original's list), plus the 1-D SSM constants (norms and biases are
        excluded by the optimiser anyway)."""
        return {"cls_token"} | {n for n, _ in self.named_parameters() if n.rsplit(".", 1)[-1] in ("A_log", "D",
                                                                                                   "dt_bias")}

    def set_drop_path_rate(self, rate: float) -> None:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"drop path rate must be in [0, 1), got {rate}")
        for block, block_rate in zip(self.layers, self._drop_path_rates(rate)):
            block.drop_path.rate = block_rate

    def set_backend(self, backend: str) -> None:
        """Switch every kernel between ``auto``, ``reference`` and ``mamba_ssm`` (weights unchanged)."""
        apply_backend(self, backend)
