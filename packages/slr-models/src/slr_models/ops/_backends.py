"""Optional fast kernels (mamba-ssm, causal-conv1d) behind import guards.

Importing :mod:`slr_models` never imports these libraries. They are looked up lazily the
first time a fast path could be used; any exception raised while importing them (not only
``ImportError``: on machines without a GPU, mamba-ssm fails with errors about its missing
compiled extension) marks the backend as unavailable and ``backend="auto"`` then uses the
pure-PyTorch reference path.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable

import torch

REFERENCE = "reference"
AUTO = "auto"


@dataclass(frozen=True)
class FastKernels:
    """Handles on the optional kernels; ``None`` where an import failed (see ``errors``)."""

    mamba_chunk_scan_combined: Callable[..., Any] | None
    layer_norm_fn: Callable[..., Any] | None
    rmsnorm_gated_fn: Callable[..., Any] | None
    causal_conv1d_fn: Callable[..., Any] | None
    errors: dict[str, str]


@functools.lru_cache(maxsize=1)
def fast_kernels() -> FastKernels:
    """Import the optional kernels once and remember what failed and why."""
    errors: dict[str, str] = {}
    scan = norm = gated = conv = None
    try:
        from mamba_ssm.ops.triton.ssd_combined import mamba_chunk_scan_combined as scan
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable here"
        errors["mamba_ssm"] = f"{type(exc).__name__}: {exc}"
    try:
        from mamba_ssm.ops.triton.layer_norm import layer_norm_fn as norm
        from mamba_ssm.ops.triton.layernorm_gated import rmsnorm_fn as gated
    except Exception as exc:  # noqa: BLE001
        errors.setdefault("mamba_ssm", f"{type(exc).__name__}: {exc}")
    try:
        from causal_conv1d import causal_conv1d_fn as conv
    except Exception as exc:  # noqa: BLE001
        errors["causal_conv1d"] = f"{type(exc).__name__}: {exc}"
    return FastKernels(scan, norm, gated, conv, errors)


def available_backends() -> dict[str, bool]:
    """Which fast backends imported successfully on this machine (CUDA is still needed to use them)."""
    kernels = fast_kernels()
    return {
        "mamba_ssm": kernels.mamba_chunk_scan_combined is not None and kernels.layer_norm_fn is not None,
        "causal_conv1d": kernels.causal_conv1d_fn is not None,
    }


def _all_cuda(tensors: tuple[torch.Tensor | None, ...]) -> bool:
    present = [t for t in tensors if t is not None]
    return bool(present) and all(t.is_cuda for t in present)


def resolve_backend(
    backend: str,
    fast_name: str,
    fast_fn: Callable[..., Any] | None,
    tensors: tuple[torch.Tensor | None, ...],
    supported: bool = True,
    why_unsupported: str = "",
) -> str:
    """Pick ``"reference"`` or ``fast_name`` for one call.

    ``backend="auto"`` takes the fast kernel only when it imported, every tensor is on CUDA and
    the inputs are ``supported`` by it; otherwise the reference path. Naming the fast backend
    explicitly raises a ``RuntimeError`` explaining why it cannot run instead of falling back.
    """
    if backend == REFERENCE:
        return REFERENCE
    if backend == AUTO:
        usable = fast_fn is not None and _all_cuda(tensors) and supported
        return fast_name if usable else REFERENCE
    if backend != fast_name:
        raise ValueError(f"unknown backend {backend!r}: expected 'auto', 'reference' or {fast_name!r}")
    if fast_fn is None:
        reason = fast_kernels().errors.get(fast_name, "import failed")
        raise RuntimeError(
            f"backend {fast_name!r} was requested but cannot be imported ({reason}); "
            f"install it with `pip install slr-models[cuda]` on a CUDA machine or use backend='auto'"
        )
    if not _all_cuda(tensors):
        raise RuntimeError(f"backend {fast_name!r} needs every input on a CUDA device")
    if not supported:
        raise RuntimeError(f"backend {fast_name!r} does not support these inputs: {why_unsupported}")
    return fast_name
