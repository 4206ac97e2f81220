"""The CTC model: stem -> spatial/temporal Mamba2 blocks -> per-frame gloss log-probabilities."""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from slr_models.layers import (
    AddNorm,
    ConvNeXtStem,
    FeedForward,
    Packing,
    SLRBlock,
    SpatialAttention,
    SpatialMamba2,
    TemporalDownsample,
    TemporalMamba2,
    downsampled_lengths,
)
from slr_models.layers.common import op_backend
from slr_models.models.config import SLRMambaConfig

Tensor = torch.Tensor
_NO_WEIGHT_DECAY = re.compile(r"(^|\.)(A_log|D|dt_bias|pos_embed|cls_token)$")


@dataclass
class CTCOutput:
    """``log_probs (T_max', B, V)`` float32 log-softmax (frames past a video's length are padding,
    uniform over ``V``) and ``lengths (B,)`` int64 valid frames per video, as ``F.ctc_loss`` takes them."""

    log_probs: Tensor
    lengths: Tensor


def check_packed_inputs(frames: Tensor, lengths: Tensor, seq_idx: Tensor | None, heatmaps: Tensor | None,
                        in_chans: int, img_size: int, heatmap_channels: int) -> Packing:
    """Validate a packed batch (the model contract) and return its :class:`Packing`.

    ``frames (sum_T, in_chans, img_size, img_size)``, integer ``lengths (B,) >= 1`` summing to
    ``sum_T``, optional ``seq_idx (sum_T,)`` equal to the video index of each frame, ``heatmaps
    (sum_T, heatmap_channels, h, w)`` given iff ``heatmap_channels > 0``; each failure is a
    ``ValueError`` saying what is wrong.
    """
    expected = (in_chans, img_size, img_size)
    if frames.dim() != 4 or tuple(frames.shape[1:]) != expected:
        raise ValueError(f"frames must be (sum_T, {', '.join(map(str, expected))}), got {tuple(frames.shape)}")
    if lengths.dim() != 1 or lengths.dtype.is_floating_point or lengths.numel() == 0:
        raise ValueError(f"lengths must be a non-empty 1-D integer tensor, got {lengths.dtype} "
                         f"{tuple(lengths.shape)}")
    lengths = lengths.to(device=frames.device, dtype=torch.int64)
    if bool((lengths < 1).any()):
        raise ValueError(f"every video needs at least one frame, got lengths {lengths.tolist()}")
    if int(lengths.sum()) != frames.shape[0]:
        raise ValueError(f"lengths sum to {int(lengths.sum())} but frames has {frames.shape[0]} frames")
    packing = Packing.from_lengths(lengths)
    if seq_idx is not None and not torch.equal(seq_idx.to(packing.seq_idx), packing.seq_idx):
        raise ValueError("seq_idx does not match lengths: expected the video index of each frame "
                         "(0 repeated lengths[0] times, then 1, ...)")
    if (heatmaps is not None) != (heatmap_channels > 0):
        raise ValueError(f"model has heatmap_channels={heatmap_channels} but heatmaps "
                         f"{'were' if heatmaps is not None else 'were not'} given")
    expected_maps = (frames.shape[0], heatmap_channels)
    if heatmaps is not None and (heatmaps.dim() != 4 or tuple(heatmaps.shape[:2]) != expected_maps):
        raise ValueError(f"heatmaps must be ({frames.shape[0]}, {heatmap_channels}, h, w), "
                         f"got {tuple(heatmaps.shape)}")
    return packing


def apply_backend(model: nn.Module, backend: str) -> None:
    """Set ``backend`` on every module of ``model`` that has one, and in ``model.config``."""
    op_backend(backend, "ssd")  # validates the name
    for module in model.modules():
        if hasattr(module, "backend") and isinstance(module.backend, str):
            module.backend = backend
    model.config = model.config.replace(backend=backend)


def pad_log_probs(logits: Tensor, packing: Packing) -> CTCOutput:
    """Per-frame ``logits (F', V)`` of packed videos -> :class:`CTCOutput` (float32 log-softmax,
    ``(T_max', B, V)``, positions past a video's length uniform over ``V``)."""
    padded = logits.new_zeros(packing.num_videos, packing.max_length, logits.shape[-1])
    padded[packing.seq_idx.long(), packing.frame_positions()] = logits
    log_probs = F.log_softmax(padded.float(), dim=-1).transpose(0, 1)  # (T', B, V)
    return CTCOutput(log_probs=log_probs, lengths=packing.lengths)


class SLRMambaCTC(nn.Module):
    """Mamba2 continuous sign language recognition model trained with CTC.

    ``forward(frames (F, C, H, W), lengths (B,), seq_idx=None, heatmaps=None) -> CTCOutput``, with the
    frames of ``B`` videos packed along the first axis (``F = sum(lengths)``). See
    :class:`~slr_models.models.config.SLRMambaConfig` for the architecture.
    """

    def __init__(self, config: SLRMambaConfig):
        super().__init__()
        self.config = config
        c = config
        self.stem = ConvNeXtStem(c.in_chans + c.heatmap_channels, c.img_size, c.d_model, c.stem_dims, c.stem_blocks)
        rates = self._drop_path_rates(c.drop_path_rate)
        self.blocks = nn.ModuleList(self._make_block(i, rates[i]) for i in range(c.depth))
        self.downsamplers = nn.ModuleDict(
            {str(i): TemporalDownsample(c.d_model, c.temporal_stride) for i in sorted(c.temporal_downsample_at)}
        )
        self.norm_f = AddNorm(c.d_model, c.norm_eps, c.rms_norm, c.backend)
        pooled = 2 if c.global_pool == "avgmax" else 1
        self.head = nn.Linear((pooled + 1) * c.d_model, c.num_classes)
        self.apply(self._init_linear)

    def _make_block(self, index: int, drop_path: float) -> SLRBlock:
        c = self.config
        mamba = dict(d_state=c.d_state, expand=c.expand, headdim=c.headdim, ngroups=c.ngroups,
                     chunk_size=c.chunk_size, backend=c.backend)
        if index in c.attention_layers:
            spatial: nn.Module = SpatialAttention(c.d_model, c.attention_heads)
        else:
            spatial = SpatialMamba2(c.d_model, c.grid, conv_kernel=c.spatial_conv, **mamba)
        temporal = TemporalMamba2(c.d_model, d_conv=c.temporal_conv, **mamba)
        return SLRBlock(c.d_model, spatial, temporal, FeedForward(c.d_model, c.mlp_ratio), drop_path,
                        c.norm_eps, c.rms_norm, c.backend)

    @staticmethod
    def _init_linear(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def _drop_path_rates(self, rate: float) -> list[float]:
        depth = self.config.depth
        return [rate * i / max(depth - 1, 1) for i in range(depth)]

    # ----------------------------------------------------------------------------------- forward
    def _downsample(self, key: str, hidden: Tensor, residual: Tensor | None, packing: Packing):
        x = hidden if residual is None else residual + hidden
        hidden, packing = self.downsamplers[key](x, packing)
        return hidden, None, packing

    def forward_features(self, frames: Tensor, lengths: Tensor, seq_idx: Tensor | None = None,
                         heatmaps: Tensor | None = None) -> tuple[Tensor, Packing]:
        """Per-frame features ``(F', k d_model)``: ``[pooled patch tokens, cls token]`` after the final norm
        (``k = 2``, or 3 with ``global_pool="avgmax"``), and the :class:`Packing` after temporal
        downsampling."""
        c = self.config
        packing = check_packed_inputs(frames, lengths, seq_idx, heatmaps, c.in_chans, c.img_size, c.heatmap_channels)
        if heatmaps is not None:
            size = (self.config.img_size, self.config.img_size)
            maps = F.interpolate(heatmaps.to(frames.dtype), size=size, mode="bilinear", align_corners=False)
            frames = torch.cat([frames, maps], dim=1)
        hidden, residual = self.stem(frames), None  # (F, N, d)
        for i, block in enumerate(self.blocks):
            if str(i) in self.downsamplers:
                hidden, residual, packing = self._downsample(str(i), hidden, residual, packing)
            hidden, residual = block(hidden, residual, packing)
        if str(len(self.blocks)) in self.downsamplers:
            hidden, residual, packing = self._downsample(str(len(self.blocks)), hidden, residual, packing)
        normed, _ = self.norm_f(hidden, residual)
        patches, cls = normed[:, :-1], normed[:, -1]
        pool = self.config.global_pool
        pooled = [patches.mean(dim=1)] if pool in ("avg", "avgmax") else []
        if pool in ("max", "avgmax"):
            pooled.append(patches.amax(dim=1))
        return torch.cat([*pooled, cls], dim=-1), packing

    def forward(self, frames: Tensor, lengths: Tensor, seq_idx: Tensor | None = None,
                heatmaps: Tensor | None = None) -> CTCOutput:
        """``frames (sum_T, C, H, W)``, ``lengths (B,)``, optional ``seq_idx (sum_T,)`` (checked against
        ``lengths``) and ``heatmaps (sum_T, K, h, w)`` -> :class:`CTCOutput`."""
        features, packing = self.forward_features(frames, lengths, seq_idx, heatmaps)
        return pad_log_probs(self.head(features), packing)

    # ---------------------------------------------------------------------- training helpers
    def compile_regions(self) -> list[nn.Module]:
        """The submodules ``torch.compile`` should take one by one (``slr_train``'s ``train.compile``):
        the stem and each block's spatial mixer, temporal mixer and feed-forward. They take and return
        tensors (and a tensors-only :class:`Packing`) with no data-dependent shapes, and the mixers of
        all blocks share one compiled graph per class; the norms, residuals and the packing bookkeeping
        between them (input checks, temporal downsampling, padding for CTC) stay eager. (Whole blocks
        as regions trip an inductor stride error with dynamic lengths in torch 2.11.)"""
        regions: list[nn.Module] = [self.stem]
        for block in self.blocks:
            regions.extend(m for m in (block.spatial, block.temporal, block.ffn) if m is not None)
        return regions

    def output_lengths(self, lengths: Tensor | list[int]) -> Tensor:
        """Frames per video after temporal downsampling, without running the model."""
        out = torch.as_tensor(lengths, dtype=torch.int64)
        for _ in self.config.temporal_downsample_at:
            out = downsampled_lengths(out, self.config.temporal_stride)
        return out

    @property
    def num_decay_layers(self) -> int:
        """Layer-wise lr decay groups: stem/embeddings, one per block, final norm + head."""
        return self.config.depth + 2

    def layer_decay_id(self, param_name: str) -> int:
        """0 for the stem and embeddings, ``i + 1`` for block ``i`` (and a temporal downsampling
        placed before it), ``num_decay_layers - 1`` for the final norm and the head."""
        if param_name.startswith("stem."):
            return 0
        match = re.match(r"(blocks|downsamplers)\.(\d+)\.", param_name)
        if match:
            return int(match.group(2)) + 1
        if param_name.startswith(("norm_f.", "head.")):
            return self.num_decay_layers - 1
        raise ValueError(f"layer_decay_id: {param_name!r} is not a parameter name of this model")

    def no_weight_decay(self) -> set[str]:
        """Names of parameters that should get no weight decay besides norms and biases: position
        embedding, cls token and the SSM constants ``A_log``, ``D``, ``dt_bias``."""
        return {name for name, _ in self.named_parameters() if _NO_WEIGHT_DECAY.search(name)}

    def set_drop_path_rate(self, rate: float) -> None:
        """Set the stochastic depth maximum (rates rise linearly over the blocks from 0 to ``rate``)."""
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"drop path rate must be in [0, 1), got {rate}")
        for block, block_rate in zip(self.blocks, self._drop_path_rates(rate)):
            block.drop_path.rate = block_rate

    def set_backend(self, backend: str) -> None:
        """Switch every kernel between ``"auto"``, ``"reference"`` and ``"mamba_ssm"`` (weights unchanged);
        ``model.config.backend`` is updated to match."""
        apply_backend(self, backend)
