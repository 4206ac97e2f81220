"""Model layers on packed frame tokens ``(F, N, d)`` (``F`` frames of all videos, ``N`` tokens per frame)."""

from slr_models.layers.block import SLRBlock
from slr_models.layers.common import (
    AddNorm,
    FeedForward,
    GatedRMSNorm,
    Packing,
    VideoDropPath,
    downsampled_lengths,
)
from slr_models.layers.spatial import SpatialAttention, SpatialMamba2, scan_orders
from slr_models.layers.stem import ConvNeXtStem
from slr_models.layers.temporal import TemporalDownsample, TemporalMamba2

__all__ = [
    "AddNorm",
    "ConvNeXtStem",
    "FeedForward",
    "GatedRMSNorm",
    "Packing",
    "SLRBlock",
    "SpatialAttention",
    "SpatialMamba2",
    "TemporalDownsample",
    "TemporalMamba2",
    "VideoDropPath",
    "downsampled_lengths",
    "scan_orders",
]
