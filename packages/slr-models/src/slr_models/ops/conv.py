"""Short causal depthwise conv1d with packed-sequence support (reference and causal-conv1d)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from slr_models.ops._backends import fast_kernels, resolve_backend

Tensor = torch.Tensor
_ACTIVATIONS = (None, "silu", "swish")


def causal_conv1d_ref(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    seq_idx: Tensor | None = None,
    activation: str | None = None,
) -> Tensor:
    """Causal depthwise conv in plain PyTorch.

    ``x (batch, dim, length)``, ``weight (dim, width)``, ``bias (dim,)``, ``seq_idx (batch, length)``
    -> ``(batch, dim, length)`` in ``x.dtype``::

        out[:, d, t] = bias[d] + sum_k weight[d, k] * x[:, d, t - (width - 1) + k]

    where taps before position 0, or (with ``seq_idx``) in another segment than ``t``, read
    zero, so packed sequences never see each other. Positions with ``seq_idx < 0`` (padding)
    output 0, as in causal-conv1d. ``activation="silu"`` applies SiLU.
    """
    dim, width = weight.shape
    length = x.shape[-1]
    cd = torch.promote_types(x.dtype, weight.dtype)
    xc, w = x.to(cd), weight.to(cd).unsqueeze(1)
    b = None if bias is None else bias.to(cd)
    if seq_idx is None or width == 1:
        out = F.conv1d(xc, w, b, padding=width - 1, groups=dim)[..., :length]
    else:
        # Give every segment its own (width - 1) zeros of left padding: scatter the positions into a
        # longer buffer with gaps before each segment, run one plain conv, gather the outputs back.
        starts = torch.ones_like(seq_idx, dtype=torch.int64)
        starts[:, 1:] = (seq_idx[:, 1:] != seq_idx[:, :-1]).to(torch.int64)
        positions = torch.arange(length, device=x.device) + starts.cumsum(dim=1) * (width - 1)  # (b, l)
        gapped_length = int(positions[:, -1].max()) + 1
        if torch.equal(positions, positions[:1].expand_as(positions)):
            # Every row has the same segments (one packing shared by many rows): 1-D indices.
            pos = positions[0]
            gapped = xc.new_zeros(x.shape[0], dim, gapped_length).index_copy(2, pos, xc)
            out = F.conv1d(gapped, w, b, groups=dim).index_select(2, pos - (width - 1))
        else:
            index = positions.unsqueeze(1).expand(x.shape[0], dim, length)
            gapped = xc.new_zeros(x.shape[0], dim, gapped_length).scatter(2, index, xc)
            out = F.conv1d(gapped, w, b, groups=dim).gather(2, index - (width - 1))
        if bool((seq_idx < 0).any()):
            out = out * (seq_idx >= 0).unsqueeze(1)
    if activation in ("silu", "swish"):
        out = F.silu(out)
    return out.to(x.dtype)


def _fast_supported(x: Tensor, weight: Tensor, seq_idx: Tensor | None) -> tuple[bool, str]:
    dim, width = weight.shape
    if x.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return False, f"dtype {x.dtype}"
    if weight.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return False, f"weight dtype {weight.dtype}"
    if not 2 <= width <= 4:
        return False, f"width {width} (the kernel supports 2 to 4)"
    if seq_idx is not None and dim % 8 != 0:
        return False, f"dim {dim} not divisible by 8 (needed with seq_idx)"
    return True, ""


def _channel_last(x: Tensor) -> Tensor:
    """``x (batch, dim, length)`` with memory laid out as ``(batch, length, dim)`` and strides that are
    multiples of 8, as causal-conv1d needs with ``seq_idx`` (copies only when needed)."""
    if x.stride(1) == 1 and x.stride(2) > 1 and x.stride(2) % 8 == 0 and x.stride(0) % 8 == 0:
        return x
    return x.transpose(1, 2).contiguous().transpose(1, 2)


def causal_conv1d(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    seq_idx: Tensor | None = None,
    activation: str | None = None,
    backend: str = "auto",
) -> Tensor:
    """Causal depthwise conv1d; see :func:`causal_conv1d_ref` for the exact semantics.

    Args:
        x: ``(batch, dim, length)``; pass ``y.transpose(1, 2)`` of a ``(batch, length, dim)``
            tensor (channel-last memory), which is what causal-conv1d needs with ``seq_idx``.
        weight: ``(dim, width)``; bias: ``(dim,)``.
        seq_idx: ``(batch, length)`` integer segment ids (taps never cross a change).
        activation: ``None`` or ``"silu"``/``"swish"``.
        backend: ``"reference"``, ``"causal_conv1d"`` (CUDA kernel) or ``"auto"``: the kernel
            when it imported, tensors are on CUDA and it supports the inputs (float dtypes,
            width 2-4, and with ``seq_idx`` ``dim % 8 == 0``; ``x`` is then copied to channel-last
            memory if it is not already).

    Returns:
        ``(batch, dim, length)`` in ``x.dtype``.
    """
    if x.dim() != 3 or weight.dim() != 2 or weight.shape[0] != x.shape[1]:
        raise ValueError(
            f"causal_conv1d: expected x (batch, dim, length) and weight (dim, width), "
            f"got {tuple(x.shape)} and {tuple(weight.shape)}"
        )
    if seq_idx is not None and tuple(seq_idx.shape) != (x.shape[0], x.shape[2]):
        raise ValueError(f"causal_conv1d: seq_idx must be {(x.shape[0], x.shape[2])}, got {tuple(seq_idx.shape)}")
    if activation not in _ACTIVATIONS:
        raise ValueError(f"causal_conv1d: activation must be None, 'silu' or 'swish', got {activation!r}")
    kernels = fast_kernels() if backend != "reference" else None
    fast = kernels.causal_conv1d_fn if kernels is not None else None
    supported, why = _fast_supported(x, weight, seq_idx)
    which = resolve_backend(backend, "causal_conv1d", fast, (x, weight, bias, seq_idx), supported, why)
    if which == "reference":
        return causal_conv1d_ref(x, weight, bias, seq_idx=seq_idx, activation=activation)
    if seq_idx is not None:
        seq_idx = seq_idx.to(torch.int32).contiguous()
        x = _channel_last(x)
    return fast(x, weight, bias, seq_idx=seq_idx, activation=activation)
