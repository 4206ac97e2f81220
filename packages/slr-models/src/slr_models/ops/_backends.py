"""Optional fast kernels (mamba-ssm's Triton kernels, causal-conv1d, slr's Triton conv) behind import guards.

Importing :mod:`slr_models` never imports these libraries. They are looked up lazily the first time
a fast path could be used; any exception raised while importing them marks that kernel as
unavailable (with the reason kept for error messages and ``slr-models backends``), and
``backend="auto"`` then uses the pure-PyTorch reference.

mamba-ssm's kernels are imported without its package ``__init__`` (see :mod:`._mamba_import`), so
an install made without a compiler (``MAMBA_SKIP_CUDA_BUILD=TRUE``) is enough. The causal conv uses
causal-conv1d's CUDA kernel when it is installed, else slr's own Triton kernel
(:mod:`slr_models.ops.conv_triton`), else the reference.

Testing switch: when ``TRITON_INTERPRET=1`` is set before the kernels are first loaded, Triton's
interpreter runs them on CPU tensors, and an explicitly named fast backend (``"mamba_ssm"``,
``"triton"``) then accepts CPU tensors. ``"auto"`` still picks the reference on the CPU.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from slr_models.ops._mamba_import import import_mamba_submodule, mamba_version

REFERENCE = "reference"
AUTO = "auto"
INTERPRET_ENV = "TRITON_INTERPRET"


def interpreter_requested() -> bool:
    """Whether ``TRITON_INTERPRET`` asks Triton to interpret kernels (read at kernel import time)."""
    return os.environ.get(INTERPRET_ENV, "0").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class FastKernels:
    """Handles on the optional kernels; ``None`` where an import failed (reason in ``errors``).

    ``interpreted``: the Triton kernels were loaded under ``TRITON_INTERPRET=1`` (they then run on
    CPU tensors, slowly; causal-conv1d's CUDA kernel never does).
    """

    mamba_chunk_scan_combined: Callable[..., Any] | None
    layer_norm_fn: Callable[..., Any] | None
    rmsnorm_gated_fn: Callable[..., Any] | None
    causal_conv1d_fn: Callable[..., Any] | None
    triton_conv1d_fn: Callable[..., Any] | None
    errors: dict[str, str] = field(default_factory=dict)
    interpreted: bool = False


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


@functools.lru_cache(maxsize=1)
def fast_kernels() -> FastKernels:
    """Import the optional kernels once and remember what failed and why."""
    errors: dict[str, str] = {}
    scan = norm = gated = conv = triton_conv = None
    try:
        scan = import_mamba_submodule("ops.triton.ssd_combined").mamba_chunk_scan_combined
        norm = import_mamba_submodule("ops.triton.layer_norm").layer_norm_fn
        gated = import_mamba_submodule("ops.triton.layernorm_gated").rmsnorm_fn
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable here"
        scan = norm = gated = None
        errors["mamba_ssm"] = _reason(exc)
    try:
        from causal_conv1d import causal_conv1d_fn as conv
    except Exception as exc:  # noqa: BLE001
        errors["causal_conv1d"] = _reason(exc)
    try:
        from slr_models.ops.conv_triton import causal_conv1d_triton as triton_conv
    except Exception as exc:  # noqa: BLE001
        errors["triton"] = _reason(exc)
    return FastKernels(scan, norm, gated, conv, triton_conv, errors, interpreted=interpreter_requested())


def takes_reference(backend: str) -> bool:
    """Whether a call with ``backend`` runs the pure-PyTorch reference without looking at the kernels:
    ``"reference"``, and ``"auto"`` while ``torch.compile`` traces (the compiler fuses the reference;
    the kernels would be opaque to it, and looking them up would break the graph)."""
    return backend == REFERENCE or (backend == AUTO and torch.compiler.is_compiling())


def available_backends() -> dict[str, bool]:
    """Which fast kernels import on this machine (a CUDA device, or the interpreter, is still needed).

    ``mamba_ssm``: its Triton SSD scan and norms; ``causal_conv1d``: the CUDA conv extension;
    ``triton``: slr's Triton causal conv.
    """
    kernels = fast_kernels()
    return {
        "mamba_ssm": kernels.mamba_chunk_scan_combined is not None and kernels.layer_norm_fn is not None,
        "causal_conv1d": kernels.causal_conv1d_fn is not None,
        "triton": kernels.triton_conv1d_fn is not None,
    }


def _present(tensors: tuple[torch.Tensor | None, ...]) -> list[torch.Tensor]:
    return [t for t in tensors if t is not None]


def all_cuda(tensors: tuple[torch.Tensor | None, ...]) -> bool:
    present = _present(tensors)
    return bool(present) and all(t.is_cuda for t in present)


def device_ok(tensors: tuple[torch.Tensor | None, ...], interpretable: bool) -> bool:
    """All on CUDA, or (for Triton kernels loaded under the interpreter) all on the CPU."""
    present = _present(tensors)
    if all_cuda(tensors):
        return True
    return interpretable and bool(present) and all(t.device.type == "cpu" for t in present)


def _device_message(fast_name: str, interpretable: bool) -> str:
    hint = (f" (CPU tensors work only under Triton's interpreter: set {INTERPRET_ENV}=1 before the kernels "
            "are first loaded)") if interpretable else ""
    return f"backend {fast_name!r} needs every input on a CUDA device{hint}"


def resolve_backend(
    backend: str,
    fast_name: str,
    fast_fn: Callable[..., Any] | None,
    tensors: tuple[torch.Tensor | None, ...],
    supported: bool = True,
    why_unsupported: str = "",
    interpretable: bool = True,
) -> str:
    """Pick ``"reference"`` or ``fast_name`` for one call.

    ``backend="auto"`` takes the fast kernel only when it imported, every tensor is on CUDA and the
    inputs are ``supported`` by it; otherwise the reference path. Naming the fast backend explicitly
    raises a ``RuntimeError`` explaining why it cannot run instead of falling back. ``interpretable``:
    the kernel is Triton code, so CPU tensors are accepted when it was loaded under the interpreter.
    """
    if takes_reference(backend):
        return REFERENCE
    if backend == AUTO:
        usable = fast_fn is not None and all_cuda(tensors) and supported
        return fast_name if usable else REFERENCE
    if backend != fast_name:
        raise ValueError(f"unknown backend {backend!r}: expected 'auto', 'reference' or {fast_name!r}")
    if fast_fn is None:
        reason = fast_kernels().errors.get(fast_name, "import failed")
        raise RuntimeError(
            f"backend {fast_name!r} was requested but cannot be imported ({reason}); "
            f"see the slr-models README (fast path) or use backend='auto'"
        )
    if not device_ok(tensors, interpretable and fast_kernels().interpreted):
        raise RuntimeError(_device_message(fast_name, interpretable))
    if not supported:
        raise RuntimeError(f"backend {fast_name!r} does not support these inputs: {why_unsupported}")
    return fast_name


def describe_kernels() -> dict[str, Any]:
    """Versions and import status of the optional kernel libraries (for reports)."""
    kernels = fast_kernels()
    return {
        "mamba_ssm_version": mamba_version(),
        "importable": available_backends(),
        "errors": dict(kernels.errors),
        "interpreted": kernels.interpreted,
        "cuda": torch.cuda.is_available(),
    }
