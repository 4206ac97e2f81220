"""Batching variable-length videos: packed (what CTC and packed scans want) or padded.

Packed: ``frames (sum_T, C, H, W)`` with ``lengths (B,)`` and ``seq_idx (sum_T,)`` (video index of
every frame), labels concatenated with ``label_lengths`` (the "concatenated targets" form of
``torch.nn.functional.ctc_loss``). Padded: ``frames (B, T_max, C, H, W)`` with ``mask (B, T_max)``.
``None`` samples (videos skipped by ``on_error="skip"``) are dropped and counted in
``num_skipped``; if every sample of a batch was skipped the batch is empty (``batch_size == 0``,
``frames`` of shape ``(0,)``): skip it in the training loop.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import get_worker_info

__all__ = ["VideoSample", "PackedBatch", "PaddedBatch", "collate_packed", "collate_padded"]


@dataclass
class VideoSample:
    """One video, ready for batching.

    Attributes:
        video_id, signer: identifiers.
        frames: ``(T, C, H, W)`` float32, normalised.
        label: ``(L,)`` int64 gloss ids (no blank).
        glosses: the ``L`` gloss strings.
        heatmaps: optional ``(T, K, h, w)`` float32 keypoint heatmaps.
    """

    video_id: str
    signer: str
    frames: torch.Tensor
    label: torch.Tensor
    glosses: list[str]
    heatmaps: torch.Tensor | None = None

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])


class _BatchMixin:
    def to(self, device, non_blocking: bool = False):
        """Copy of the batch with every tensor on ``device``."""
        return dataclasses.replace(
            self,
            **{
                f.name: getattr(self, f.name).to(device, non_blocking=non_blocking)
                for f in dataclasses.fields(self)
                if isinstance(getattr(self, f.name), torch.Tensor)
            },
        )

    def pin_memory(self):
        """Called by ``DataLoader(pin_memory=True)``."""
        return dataclasses.replace(
            self,
            **{
                f.name: getattr(self, f.name).pin_memory()
                for f in dataclasses.fields(self)
                if isinstance(getattr(self, f.name), torch.Tensor)
            },
        )

    @property
    def batch_size(self) -> int:
        return len(self.video_ids)


@dataclass
class PackedBatch(_BatchMixin):
    """Packed batch. Shapes: ``frames (sum_T, C, H, W)``, ``lengths (B,)`` int64,
    ``seq_idx (sum_T,)`` int32, ``labels (sum_L,)`` int64, ``label_lengths (B,)`` int64,
    ``heatmaps (sum_T, K, h, w)`` or ``None``. ``num_skipped`` counts dropped ``None`` samples."""

    frames: torch.Tensor
    lengths: torch.Tensor
    seq_idx: torch.Tensor
    labels: torch.Tensor
    label_lengths: torch.Tensor
    video_ids: list[str]
    signers: list[str]
    glosses: list[list[str]]
    heatmaps: torch.Tensor | None = None
    num_skipped: int = 0

    @property
    def cu_seqlens(self) -> torch.Tensor:
        """``(B + 1,)`` int32 frame offsets: video ``i`` is ``frames[cu[i]:cu[i + 1]]``."""
        return torch.nn.functional.pad(self.lengths.cumsum(0), (1, 0)).to(torch.int32)


@dataclass
class PaddedBatch(_BatchMixin):
    """Padded batch. Shapes: ``frames (B, T_max, C, H, W)`` (zeros past each length),
    ``mask (B, T_max)`` bool (True on real frames), ``lengths (B,)``, ``labels (sum_L,)``,
    ``label_lengths (B,)``, ``heatmaps (B, T_max, K, h, w)`` or ``None``."""

    frames: torch.Tensor
    mask: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor
    label_lengths: torch.Tensor
    video_ids: list[str]
    signers: list[str]
    glosses: list[list[str]]
    heatmaps: torch.Tensor | None = None
    num_skipped: int = 0


def _empty(shape: Sequence[int], like: torch.Tensor) -> torch.Tensor:
    """Output buffer; in a DataLoader worker it lives in shared memory (saves one copy)."""
    if get_worker_info() is not None:
        storage = like._typed_storage()._new_shared(math.prod(shape), device=like.device)
        return like.new(storage).resize_(*shape)
    return torch.empty(tuple(shape), dtype=like.dtype, device=like.device)


def _common(samples):
    kept = [s for s in samples if s is not None]
    with_maps = [s.heatmaps is not None for s in kept]
    if any(with_maps) and not all(with_maps):
        raise ValueError("some samples have heatmaps and some do not")
    shapes = {tuple(s.frames.shape[1:]) for s in kept}
    if len(shapes) > 1:
        raise ValueError(f"frames of one batch must share (C, H, W); got {sorted(shapes)}")
    labels = [s.label.to(torch.int64) for s in kept]
    fields = dict(
        lengths=torch.tensor([s.num_frames for s in kept], dtype=torch.int64),
        labels=torch.cat(labels) if labels else torch.zeros(0, dtype=torch.int64),
        label_lengths=torch.tensor([len(x) for x in labels], dtype=torch.int64),
        video_ids=[s.video_id for s in kept],
        signers=[s.signer for s in kept],
        glosses=[list(s.glosses) for s in kept],
        num_skipped=len(samples) - len(kept),
    )
    return kept, all(with_maps), fields


def collate_packed(samples: Sequence[VideoSample | None]) -> PackedBatch:
    """Concatenate the videos of a batch along time (see :class:`PackedBatch`)."""
    kept, has_maps, fields = _common(samples)
    if not kept:
        return PackedBatch(frames=torch.zeros(0), seq_idx=torch.zeros(0, dtype=torch.int32), **fields)
    lengths = fields["lengths"]
    total = int(lengths.sum())
    frames = torch.cat(
        [s.frames for s in kept], out=_empty((total, *kept[0].frames.shape[1:]), kept[0].frames)
    )
    heatmaps = None
    if has_maps:
        heatmaps = torch.cat(
            [s.heatmaps for s in kept], out=_empty((total, *kept[0].heatmaps.shape[1:]), kept[0].heatmaps)
        )
    seq_idx = torch.repeat_interleave(torch.arange(len(kept), dtype=torch.int32), lengths)
    return PackedBatch(frames=frames, seq_idx=seq_idx, heatmaps=heatmaps, **fields)


def _pad(tensors: list[torch.Tensor], t_max: int) -> torch.Tensor:
    out = _empty((len(tensors), t_max, *tensors[0].shape[1:]), tensors[0])
    for i, tensor in enumerate(tensors):
        out[i, : tensor.shape[0]] = tensor
        out[i, tensor.shape[0] :] = 0
    return out


def collate_padded(samples: Sequence[VideoSample | None]) -> PaddedBatch:
    """Stack the videos of a batch with zero padding (see :class:`PaddedBatch`)."""
    kept, has_maps, fields = _common(samples)
    if not kept:
        return PaddedBatch(frames=torch.zeros(0), mask=torch.zeros(0, 0, dtype=torch.bool), **fields)
    lengths = fields["lengths"]
    t_max = int(lengths.max())
    mask = torch.arange(t_max)[None, :] < lengths[:, None]
    frames = _pad([s.frames for s in kept], t_max)
    heatmaps = _pad([s.heatmaps for s in kept], t_max) if has_maps else None
    return PaddedBatch(frames=frames, mask=mask, heatmaps=heatmaps, **fields)
