"""Parameter counts and FLOPs per frame of a model (reference path, counted by torch's FlopCounterMode)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from slr_models.models.ctc import SLRMambaCTC


@dataclass(frozen=True)
class ModelStats:
    """``params``: trainable parameters; ``flops_per_frame``: forward FLOPs / frame (matmuls and
    convolutions, 2 per multiply-add, as counted by ``FlopCounterMode``; elementwise ops excluded);
    measured on ``frames`` frames packed as ``videos`` videos."""

    name: str
    params: int
    flops_per_frame: float
    frames: int
    videos: int

    def format(self) -> str:
        flops = (f"{self.flops_per_frame / 1e9:.2f} GFLOPs" if self.flops_per_frame >= 1e9
                 else f"{self.flops_per_frame / 1e6:.2f} MFLOPs")
        return (f"{self.name}: {self.params / 1e6:.3f} M parameters, {flops}/frame forward "
                f"(measured on {self.videos} video(s), {self.frames} frames)")


def count_parameters(model: torch.nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def model_stats(model: SLRMambaCTC, frames: int = 4, videos: int = 1) -> ModelStats:
    """Count parameters and forward FLOPs per frame on random input (reference kernels, no grad).

    FLOPs per frame barely depend on ``frames``: only the temporal scans' intra-chunk products grow
    with the video length (up to ``chunk_size``), a few percent of the total.
    """
    if videos < 1 or frames < videos:
        raise ValueError(f"need 1 <= videos <= frames, got videos={videos}, frames={frames}")
    c = model.config
    device = next(model.parameters()).device
    lengths = torch.full((videos,), frames // videos, dtype=torch.int64, device=device)
    lengths[: frames % videos] += 1
    inputs = torch.randn(frames, c.in_chans, c.img_size, c.img_size, device=device)
    heatmaps = None
    if c.heatmap_channels:
        heatmaps = torch.rand(frames, c.heatmap_channels, c.img_size // 4, c.img_size // 4, device=device)
    backend = c.backend
    was_training = model.training
    model.set_backend("reference")
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(inputs, lengths, heatmaps=heatmaps)
    finally:
        model.set_backend(backend)
        model.train(was_training)
    return ModelStats(c.name, count_parameters(model), counter.get_total_flops() / frames, frames, videos)
