"""``ssd_scan``: the Mamba2 SSD scan with a pure-PyTorch reference and the mamba-ssm Triton kernel."""

from __future__ import annotations

import torch

from slr_models.ops._backends import fast_kernels, resolve_backend, takes_reference
from slr_models.ops.ssd_ref import ssd_scan_ref

Tensor = torch.Tensor
_FAST_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _check_shapes(x, dt, A, B, C, D, z, dt_bias, chunk_size, seq_idx, initial_states) -> None:
    if x.dim() != 4:
        raise ValueError(f"ssd_scan: x must be (batch, length, heads, headdim), got shape {tuple(x.shape)}")
    b, l, h, p = x.shape
    if B.dim() != 4 or B.shape[:2] != (b, l):
        raise ValueError(f"ssd_scan: B must be ({b}, {l}, groups, dstate), got {tuple(B.shape)}")
    g, n = B.shape[2], B.shape[3]
    expected = {
        "dt": (dt, (b, l, h)),
        "A": (A, (h,)),
        "C": (C, (b, l, g, n)),
        "z": (z, (b, l, h, p)),
        "dt_bias": (dt_bias, (h,)),
        "seq_idx": (seq_idx, (b, l)),
        "initial_states": (initial_states, (b, h, p, n)),
    }
    for name, (tensor, shape) in expected.items():
        if tensor is not None and tuple(tensor.shape) != shape:
            raise ValueError(f"ssd_scan: {name} must have shape {shape}, got {tuple(tensor.shape)}")
    if h % g != 0:
        raise ValueError(f"ssd_scan: heads ({h}) must be a multiple of groups ({g})")
    if D is not None and tuple(D.shape) not in ((h,), (h, p)):
        raise ValueError(f"ssd_scan: D must have shape ({h},) or ({h}, {p}), got {tuple(D.shape)}")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"ssd_scan: chunk_size must be a positive int, got {chunk_size!r}")
    if seq_idx is not None and (seq_idx.dtype.is_floating_point or seq_idx.dtype == torch.bool):
        raise ValueError(f"ssd_scan: seq_idx must be an integer tensor, got {seq_idx.dtype}")


def ssd_scan(
    x: Tensor,
    dt: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    z: Tensor | None = None,
    dt_bias: Tensor | None = None,
    dt_softplus: bool = False,
    chunk_size: int = 64,
    seq_idx: Tensor | None = None,
    initial_states: Tensor | None = None,
    return_final_states: bool = False,
    backend: str = "auto",
):
    """Mamba2 SSD scan with the semantics of mamba-ssm's ``mamba_chunk_scan_combined``.

    Args:
        x: ``(batch, length, heads, headdim)`` inputs.
        dt: ``(batch, length, heads)`` step sizes (before ``dt_bias``/softplus).
        A: ``(heads,)`` state decay rates (negative for a stable scan).
        B, C: ``(batch, length, groups, dstate)`` input/output projections; ``heads % groups == 0``.
        D: ``(heads,)`` or ``(heads, headdim)`` skip connection, optional.
        z: ``(batch, length, heads, headdim)`` gate, optional: ``y *= silu(z)``.
        dt_bias: ``(heads,)`` added to ``dt``; ``dt_softplus`` then applies softplus.
        chunk_size: positions per chunk (a speed knob; results do not depend on it).
        seq_idx: ``(batch, length)`` integer segment ids; the state resets wherever it changes,
            so several sequences can be packed into one row. Segments must be contiguous; use
            ids starting at 0 (the mamba-ssm kernel applies ``initial_states`` to id 0).
        initial_states: ``(batch, heads, headdim, dstate)`` state before position 0.
        return_final_states: also return the ``(batch, heads, headdim, dstate)`` final state.
        backend: ``"reference"`` (pure PyTorch, any device/dtype, differentiable),
            ``"compiled"`` (the reference through ``torch.compile``: faster on CPU, but the
            first call per input signature compiles for tens of seconds; never chosen by
            ``"auto"``), ``"mamba_ssm"`` (Triton kernel; CUDA, fp32/fp16/bf16) or ``"auto"``
            (the kernel when it imported and all tensors are on CUDA, else the reference).

    Returns:
        ``y (batch, length, heads, headdim)`` in ``x.dtype``, or ``(y, final_states)``.
    """
    _check_shapes(x, dt, A, B, C, D, z, dt_bias, chunk_size, seq_idx, initial_states)
    if backend == "compiled":
        from slr_models.ops.ssd_compiled import ssd_scan_compiled

        return ssd_scan_compiled(
            x, dt, A, B, C, D=D, z=z, dt_bias=dt_bias, dt_softplus=dt_softplus, chunk_size=chunk_size,
            seq_idx=seq_idx, initial_states=initial_states, return_final_states=return_final_states,
        )
    kernels = None if takes_reference(backend) else fast_kernels()
    fast = kernels.mamba_chunk_scan_combined if kernels is not None else None
    which = resolve_backend(
        backend,
        "mamba_ssm",
        fast,
        (x, dt, A, B, C, D, z, dt_bias, seq_idx, initial_states),
        supported=x.dtype in _FAST_DTYPES,
        why_unsupported=f"dtype {x.dtype} (the kernel takes float32, float16 or bfloat16)",
    )
    if which == "reference":
        return ssd_scan_ref(
            x, dt, A, B, C, D=D, z=z, dt_bias=dt_bias, dt_softplus=dt_softplus, chunk_size=chunk_size,
            seq_idx=seq_idx, initial_states=initial_states, return_final_states=return_final_states,
        )
    if seq_idx is not None:
        seq_idx = seq_idx.to(torch.int32).contiguous()
    return fast(
        x, dt, A, B, C, chunk_size, D=D, z=z, dt_bias=dt_bias, initial_states=initial_states,
        seq_idx=seq_idx, dt_softplus=dt_softplus, return_final_states=return_final_states,
    )
