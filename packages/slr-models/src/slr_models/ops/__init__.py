"""Sequence-model kernels, each with a pure-PyTorch ``*_ref`` and an optional fast CUDA path.

``backend="auto"`` uses mamba-ssm / causal-conv1d when they import and the tensors are on
CUDA, and the reference otherwise; importing this package never imports them.
"""

from slr_models.ops._backends import available_backends
from slr_models.ops.conv import causal_conv1d, causal_conv1d_ref
from slr_models.ops.norm import add_norm, add_norm_ref, rms_norm_gated, rms_norm_gated_ref
from slr_models.ops.ssd import ssd_scan
from slr_models.ops.ssd_ref import ssd_scan_ref, ssd_scan_sequential_ref

__all__ = [
    "add_norm",
    "add_norm_ref",
    "available_backends",
    "causal_conv1d",
    "causal_conv1d_ref",
    "rms_norm_gated",
    "rms_norm_gated_ref",
    "ssd_scan",
    "ssd_scan_ref",
    "ssd_scan_sequential_ref",
]
