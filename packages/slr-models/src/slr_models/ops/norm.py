"""Fused residual-add + LayerNorm/RMSNorm and gated RMSNorm (reference and mamba-ssm Triton)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from slr_models.ops._backends import fast_kernels, resolve_backend, takes_reference

Tensor = torch.Tensor
_FAST_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


def _upcast(dtype: torch.dtype) -> torch.dtype:
    return torch.promote_types(dtype, torch.float32)


def add_norm_ref(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    residual: Tensor | None = None,
    eps: float = 1e-6,
    is_rms_norm: bool = False,
    prenorm: bool = False,
    residual_in_fp32: bool = False,
):
    """``residual_out = x + residual``; ``y = norm(residual_out) * weight + bias``.

    Shapes: ``x``/``residual (..., d)``, ``weight``/``bias (d,)``. The sum and the norm are
    computed in float32 (float64 for float64 inputs); ``y`` is returned in ``x.dtype`` and
    ``residual_out`` in ``residual.dtype`` (float32 if ``residual_in_fp32`` and no residual,
    else ``x.dtype``), as mamba-ssm's ``layer_norm_fn``. Returns ``y``, or
    ``(y, residual_out)`` when ``prenorm``.
    """
    cd = _upcast(x.dtype)
    s = x.to(cd) if residual is None else x.to(cd) + residual.to(cd)
    if is_rms_norm:
        y = s * torch.rsqrt(s.square().mean(dim=-1, keepdim=True) + eps) * weight.to(cd)
        if bias is not None:
            y = y + bias.to(cd)
    else:
        y = F.layer_norm(s, s.shape[-1:], weight.to(cd), None if bias is None else bias.to(cd), eps)
    y = y.to(x.dtype)
    if not prenorm:
        return y
    if residual is not None:
        res_dtype = residual.dtype
    else:
        res_dtype = torch.float32 if residual_in_fp32 and x.dtype != torch.float64 else x.dtype
    return y, s.to(res_dtype)


def add_norm(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    residual: Tensor | None = None,
    eps: float = 1e-6,
    is_rms_norm: bool = False,
    prenorm: bool = False,
    residual_in_fp32: bool = False,
    backend: str = "auto",
):
    """Fused add + LayerNorm/RMSNorm; semantics of :func:`add_norm_ref`.

    ``backend``: ``"reference"``, ``"mamba_ssm"`` (``mamba_ssm.ops.triton.layer_norm.layer_norm_fn``)
    or ``"auto"`` (the kernel when it imported and every tensor is on CUDA in fp32/fp16/bf16).
    """
    if weight.dim() != 1 or x.shape[-1] != weight.shape[0]:
        raise ValueError(f"add_norm: weight must be ({x.shape[-1]},), got {tuple(weight.shape)}")
    if residual is not None and residual.shape != x.shape:
        raise ValueError(f"add_norm: residual shape {tuple(residual.shape)} != x shape {tuple(x.shape)}")
    kernels = None if takes_reference(backend) else fast_kernels()
    fast = kernels.layer_norm_fn if kernels is not None else None
    which = resolve_backend(
        backend, "mamba_ssm", fast, (x, weight, bias, residual),
        supported=x.dtype in _FAST_DTYPES, why_unsupported=f"dtype {x.dtype}",
    )
    if which == "reference":
        return add_norm_ref(x, weight, bias, residual, eps, is_rms_norm, prenorm, residual_in_fp32)
    return fast(
        x, weight, bias, residual=residual, eps=eps, prenorm=prenorm,
        residual_in_fp32=residual_in_fp32, is_rms_norm=is_rms_norm,
    )


def rms_norm_gated_ref(
    x: Tensor,
    weight: Tensor,
    z: Tensor | None = None,
    eps: float = 1e-6,
    group_size: int | None = None,
    norm_before_gate: bool = False,
) -> Tensor:
    """Gated RMSNorm of Mamba2: ``rmsnorm(x * silu(z)) * weight`` (or ``rmsnorm(x) * weight * silu(z)``
    with ``norm_before_gate``), normalising each ``group_size`` slice of the last dim separately.

    Shapes: ``x``/``z (..., d)``, ``weight (d,)``; computed in float32 (float64 for float64), returned
    in ``x.dtype``.
    """
    cd = _upcast(x.dtype)
    h = x.to(cd)
    if z is not None and not norm_before_gate:
        h = h * F.silu(z.to(cd))
    d = h.shape[-1]
    gs = d if group_size is None else group_size
    hg = h.unflatten(-1, (d // gs, gs))
    out = (hg * torch.rsqrt(hg.square().mean(dim=-1, keepdim=True) + eps)).flatten(-2) * weight.to(cd)
    if z is not None and norm_before_gate:
        out = out * F.silu(z.to(cd))
    return out.to(x.dtype)


def rms_norm_gated(
    x: Tensor,
    weight: Tensor,
    z: Tensor | None = None,
    eps: float = 1e-6,
    group_size: int | None = None,
    norm_before_gate: bool = False,
    backend: str = "auto",
) -> Tensor:
    """Gated RMSNorm; semantics of :func:`rms_norm_gated_ref`. ``backend`` as :func:`add_norm`
    (fast path: ``mamba_ssm.ops.triton.layernorm_gated.rmsnorm_fn``)."""
    d = x.shape[-1]
    if weight.shape != (d,):
        raise ValueError(f"rms_norm_gated: weight must be ({d},), got {tuple(weight.shape)}")
    if group_size is not None and (group_size < 1 or d % group_size != 0):
        raise ValueError(f"rms_norm_gated: group_size {group_size} must divide the last dim {d}")
    if z is not None and z.shape != x.shape:
        raise ValueError(f"rms_norm_gated: z shape {tuple(z.shape)} != x shape {tuple(x.shape)}")
    kernels = None if takes_reference(backend) else fast_kernels()
    fast = kernels.rmsnorm_gated_fn if kernels is not None else None
    which = resolve_backend(
        backend, "mamba_ssm", fast, (x, weight, z),
        supported=x.dtype in _FAST_DTYPES, why_unsupported=f"dtype {x.dtype}",
    )
    if which == "reference":
        return rms_norm_gated_ref(x, weight, z, eps, group_size, norm_before_gate)
    return fast(x, weight, None, z=z, eps=eps, group_size=group_size, norm_before_gate=norm_before_gate)
