"""Short causal depthwise conv1d with packed-sequence support (reference, causal-conv1d, slr's Triton kernel)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from slr_models.ops._backends import all_cuda, device_ok, fast_kernels, resolve_backend, takes_reference

Tensor = torch.Tensor
_ACTIVATIONS = (None, "silu", "swish")


def _segment_masked_conv(x: Tensor, weight: Tensor, bias: Tensor | None, seq_idx: Tensor) -> Tensor:
    """The causal conv with taps in another segment reading zero: ``x (b, dim, l)``, ``weight (dim, width)``,
    ``bias (dim,)``, ``seq_idx (b, l)`` -> ``(b, dim, l)``. One shifted multiply-add per tap, each masked
    where the tap's segment differs from the output's: no data-dependent shapes (``torch.compile``
    traces it for every length) and, for the short widths used (2-4), as fast as a conv over a gapped copy.
    """
    width = weight.shape[1]
    length = x.shape[-1]
    padded = F.pad(x, (width - 1, 0))
    seq_padded = torch.cat([seq_idx[:, :1].expand(-1, width - 1), seq_idx], dim=1)  # taps before 0 read padding
    out = padded[..., width - 1:] * weight[:, width - 1:]
    for k in range(width - 1):
        same = (seq_padded[:, k:k + length] == seq_idx).unsqueeze(1)
        out = out + padded[..., k:k + length] * weight[:, k:k + 1] * same
    return out if bias is None else out + bias.unsqueeze(-1)


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
    xc, w = x.to(cd), weight.to(cd)
    b = None if bias is None else bias.to(cd)
    if seq_idx is None or width == 1:
        out = F.conv1d(xc, w.unsqueeze(1), b, padding=width - 1, groups=dim)[..., :length]
    else:
        out = _segment_masked_conv(xc, w, b, seq_idx)
    if seq_idx is not None:
        out = out * (seq_idx >= 0).unsqueeze(1)
    if activation in ("silu", "swish"):
        out = F.silu(out)
    return out.to(x.dtype)


_FAST_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
CONV_BACKENDS = ("auto", "reference", "causal_conv1d", "triton", "fast")


def _cuda_ext_supported(x: Tensor, weight: Tensor, seq_idx: Tensor | None) -> tuple[bool, str]:
    """What causal-conv1d's CUDA kernel accepts."""
    dim, width = weight.shape
    if x.dtype not in _FAST_DTYPES or weight.dtype not in _FAST_DTYPES:
        return False, f"dtype {x.dtype}/{weight.dtype} (the kernel takes float32, float16 or bfloat16)"
    if not 2 <= width <= 4:
        return False, f"width {width} (the kernel supports 2 to 4)"
    if seq_idx is not None and dim % 8 != 0:
        return False, f"dim {dim} not divisible by 8 (needed with seq_idx)"
    return True, ""


def _triton_supported(x: Tensor, weight: Tensor) -> tuple[bool, str]:
    if x.dtype not in _FAST_DTYPES or weight.dtype not in _FAST_DTYPES:
        return False, f"dtype {x.dtype}/{weight.dtype} (the kernel takes float32, float16 or bfloat16)"
    return True, ""


def _channel_last(x: Tensor) -> Tensor:
    """``x (batch, dim, length)`` with memory laid out as ``(batch, length, dim)`` and strides that are
    multiples of 8, as causal-conv1d needs with ``seq_idx`` (copies only when needed)."""
    if x.stride(1) == 1 and x.stride(2) > 1 and x.stride(2) % 8 == 0 and x.stride(0) % 8 == 0:
        return x
    return x.transpose(1, 2).contiguous().transpose(1, 2)


def pick_conv_backend(backend: str, x: Tensor, weight: Tensor, bias: Tensor | None = None,
                      seq_idx: Tensor | None = None) -> str:
    """The implementation one :func:`causal_conv1d` call uses: ``reference``, ``causal_conv1d`` or ``triton``.

    ``auto`` (CUDA tensors only) and ``fast`` (also CPU tensors when the Triton kernels were loaded
    under ``TRITON_INTERPRET=1``) take causal-conv1d's CUDA kernel when it is installed and supports
    the inputs, else slr's Triton kernel, else the reference (the fallback of last resort: e.g. for
    float64). ``causal_conv1d`` / ``triton`` name one kernel and raise ``RuntimeError`` saying why it
    cannot run.
    """
    if backend not in CONV_BACKENDS:
        raise ValueError(f"causal_conv1d: unknown backend {backend!r}; expected one of {CONV_BACKENDS}")
    if takes_reference(backend):
        return "reference"
    kernels = fast_kernels()
    tensors = (x, weight, bias, seq_idx)
    ext_ok, ext_why = _cuda_ext_supported(x, weight, seq_idx)
    tri_ok, tri_why = _triton_supported(x, weight)
    if backend in ("auto", "fast"):
        if kernels.causal_conv1d_fn is not None and all_cuda(tensors) and ext_ok:
            return "causal_conv1d"
        interpretable = backend == "fast" and kernels.interpreted
        if kernels.triton_conv1d_fn is not None and tri_ok and device_ok(tensors, interpretable):
            return "triton"
        return "reference"
    if backend == "causal_conv1d":
        return resolve_backend(backend, "causal_conv1d", kernels.causal_conv1d_fn, tensors, ext_ok, ext_why,
                               interpretable=False)
    return resolve_backend(backend, "triton", kernels.triton_conv1d_fn, tensors, tri_ok, tri_why)


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
        seq_idx: ``(batch, length)`` integer segment ids (taps never cross a change; segments must
            be contiguous).
        activation: ``None`` or ``"silu"``/``"swish"``.
        backend: ``"reference"``, ``"causal_conv1d"`` (its CUDA kernel), ``"triton"`` (slr's Triton
            kernel), ``"auto"`` or ``"fast"``: see :func:`pick_conv_backend`.

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
    which = pick_conv_backend(backend, x, weight, bias, seq_idx)
    if which == "reference":
        return causal_conv1d_ref(x, weight, bias, seq_idx=seq_idx, activation=activation)
    if which == "triton":
        return fast_kernels().triton_conv1d_fn(x, weight, bias, seq_idx=seq_idx, activation=activation)
    if seq_idx is not None:
        seq_idx = seq_idx.to(torch.int32).contiguous()
        x = _channel_last(x)
    return fast_kernels().causal_conv1d_fn(x, weight, bias, seq_idx=seq_idx, activation=activation)
