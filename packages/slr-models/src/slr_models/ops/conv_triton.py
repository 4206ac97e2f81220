"""Causal depthwise conv1d as Triton kernels (forward and backward), for GPUs without causal-conv1d.

Semantics are those of :func:`slr_models.ops.conv.causal_conv1d_ref` (and of causal-conv1d's
CUDA kernel)::

    out[b, d, t] = act(bias[d] + sum_k weight[d, k] * x[b, d, t - (W - 1) + k])

where a tap before position 0, or (with ``seq_idx``) in another segment than ``t``
(``seq_idx[b, src] != seq_idx[b, t]``), reads zero, and positions with ``seq_idx < 0`` output 0.
``act`` is the identity or SiLU. Any memory layout works (strides are passed); the layers hold
``x (B, D, L)`` channel-last (``stride(1) == 1``), which these kernels read coalesced along ``D``.

This module imports triton at import time; :mod:`slr_models.ops._backends` imports it lazily,
so importing ``slr_models`` never needs triton. Under ``TRITON_INTERPRET=1`` (set before the first
import) the kernels also run on CPU tensors, which is how CPU CI tests them.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

Tensor = torch.Tensor


@triton.jit
def _conv_fwd_kernel(
    X, W, BIAS, SEQ, G, OUT,
    length, dim,
    stride_xb, stride_xd, stride_xl,
    stride_wd, stride_wk,
    stride_sb, stride_sl,
    stride_gb, stride_gd, stride_gl,
    stride_ob, stride_od, stride_ol,
    WIDTH: tl.constexpr, HAS_BIAS: tl.constexpr, HAS_SEQ: tl.constexpr, SILU: tl.constexpr,
    GRAD: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_D: tl.constexpr,
):
    """One ``(BLOCK_L, BLOCK_D)`` tile of ``pre = bias + conv(x)``.

    ``GRAD=False``: writes ``act(pre)`` (0 where ``seq_idx < 0``) to ``OUT``.
    ``GRAD=True``: reads the output gradient ``G`` and writes ``G * act'(pre)`` (0 where
    ``seq_idx < 0``) to ``OUT``, i.e. the gradient with respect to ``pre``.
    """
    pid_b = tl.program_id(0)
    t = tl.program_id(1) * BLOCK_L + tl.arange(0, BLOCK_L)
    d = tl.program_id(2) * BLOCK_D + tl.arange(0, BLOCK_D)
    in_t = t < length
    in_d = d < dim
    if HAS_SEQ:
        seq_t = tl.load(SEQ + pid_b * stride_sb + t * stride_sl, mask=in_t, other=-1)
    acc = tl.zeros((BLOCK_L, BLOCK_D), dtype=tl.float32)
    for k in tl.static_range(WIDTH):
        src = t - (WIDTH - 1) + k
        valid = in_t & (src >= 0)
        if HAS_SEQ:
            seq_src = tl.load(SEQ + pid_b * stride_sb + src * stride_sl, mask=valid, other=-2)
            valid = valid & (seq_src == seq_t)
        xv = tl.load(X + pid_b * stride_xb + src[:, None] * stride_xl + d[None, :] * stride_xd,
                     mask=valid[:, None] & in_d[None, :], other=0.0).to(tl.float32)
        wk = tl.load(W + d * stride_wd + k * stride_wk, mask=in_d, other=0.0).to(tl.float32)
        acc += xv * wk[None, :]
    if HAS_BIAS:
        acc += tl.load(BIAS + d, mask=in_d, other=0.0).to(tl.float32)[None, :]
    keep = in_t
    if HAS_SEQ:
        keep = keep & (seq_t >= 0)
    tile = in_t[:, None] & in_d[None, :]
    if GRAD:
        g = tl.load(G + pid_b * stride_gb + t[:, None] * stride_gl + d[None, :] * stride_gd,
                    mask=tile, other=0.0).to(tl.float32)
        if SILU:
            sig = tl.sigmoid(acc)
            g = g * sig * (1.0 + acc * (1.0 - sig))
        result = tl.where(keep[:, None], g, 0.0)
    else:
        result = tl.where(keep[:, None], acc, 0.0)
        if SILU:
            result = result * tl.sigmoid(result)
    tl.store(OUT + pid_b * stride_ob + t[:, None] * stride_ol + d[None, :] * stride_od,
             result.to(OUT.dtype.element_ty), mask=tile)


@triton.jit
def _conv_bwd_kernel(
    X, W, SEQ, GPRE, DX, DW_PART,
    length, dim, num_l_blocks,
    stride_xb, stride_xd, stride_xl,
    stride_wd, stride_wk,
    stride_sb, stride_sl,
    stride_gb, stride_gd, stride_gl,
    stride_dxb, stride_dxd, stride_dxl,
    WIDTH: tl.constexpr, HAS_SEQ: tl.constexpr, BLOCK_L: tl.constexpr, BLOCK_D: tl.constexpr,
):
    """Gradients of one ``(BLOCK_L, BLOCK_D)`` tile of source positions ``s``.

    Position ``s`` feeds output ``t = s + (W - 1) - k`` through tap ``k`` (when ``t < length`` and,
    with ``seq_idx``, ``t`` is in the same segment), so ``dx[s] = sum_k w[k] * gpre[t]`` and the tile's
    share of ``dw[k]`` is ``sum_s gpre[t] * x[s]``, written to ``DW_PART[(b, l-block), d, k]`` (float32)
    and summed by the caller.
    """
    pid_b = tl.program_id(0)
    pid_l = tl.program_id(1)
    s = pid_l * BLOCK_L + tl.arange(0, BLOCK_L)
    d = tl.program_id(2) * BLOCK_D + tl.arange(0, BLOCK_D)
    in_s = s < length
    in_d = d < dim
    if HAS_SEQ:
        seq_s = tl.load(SEQ + pid_b * stride_sb + s * stride_sl, mask=in_s, other=-1)
    xv = tl.load(X + pid_b * stride_xb + s[:, None] * stride_xl + d[None, :] * stride_xd,
                 mask=in_s[:, None] & in_d[None, :], other=0.0).to(tl.float32)
    dx = tl.zeros((BLOCK_L, BLOCK_D), dtype=tl.float32)
    part = DW_PART + (pid_b * num_l_blocks + pid_l) * dim * WIDTH
    for k in tl.static_range(WIDTH):
        t = s + (WIDTH - 1) - k
        valid = in_s & (t < length)
        if HAS_SEQ:
            seq_t = tl.load(SEQ + pid_b * stride_sb + t * stride_sl, mask=valid, other=-2)
            valid = valid & (seq_t == seq_s)
        g = tl.load(GPRE + pid_b * stride_gb + t[:, None] * stride_gl + d[None, :] * stride_gd,
                    mask=valid[:, None] & in_d[None, :], other=0.0).to(tl.float32)
        wk = tl.load(W + d * stride_wd + k * stride_wk, mask=in_d, other=0.0).to(tl.float32)
        dx += g * wk[None, :]
        tl.store(part + d * WIDTH + k, tl.sum(g * xv, axis=0), mask=in_d)
    tl.store(DX + pid_b * stride_dxb + s[:, None] * stride_dxl + d[None, :] * stride_dxd,
             dx.to(DX.dtype.element_ty), mask=in_s[:, None] & in_d[None, :])


def _blocks(length: int, dim: int) -> tuple[int, int]:
    return min(64, triton.next_power_of_2(max(length, 1))), min(64, triton.next_power_of_2(max(dim, 1)))


def _forward(x: Tensor, weight: Tensor, bias: Tensor | None, seq_idx: Tensor | None, silu: bool,
             grad: Tensor | None = None) -> Tensor:
    """``act(conv(x))`` or, given ``grad`` (the output gradient), the gradient of the pre-activation.

    Both are returned channel-last like the layers hold them (``(B, D, L)``, ``stride(1) == 1``).
    """
    batch, dim, length = x.shape
    width = weight.shape[1]
    out_dtype = x.dtype if grad is None else torch.float32
    out = torch.empty(batch, length, dim, device=x.device, dtype=out_dtype).transpose(1, 2)
    block_l, block_d = _blocks(length, dim)
    grid = (batch, triton.cdiv(length, block_l), triton.cdiv(dim, block_d))
    seq = seq_idx if seq_idx is not None else x  # placeholders: never read when the flag is off
    g = grad if grad is not None else out
    _conv_fwd_kernel[grid](
        x, weight, bias if bias is not None else weight, seq, g, out,
        length, dim,
        x.stride(0), x.stride(1), x.stride(2),
        weight.stride(0), weight.stride(1),
        seq.stride(0) if seq_idx is not None else 0, seq.stride(1) if seq_idx is not None else 0,
        g.stride(0), g.stride(1), g.stride(2),
        out.stride(0), out.stride(1), out.stride(2),
        WIDTH=width, HAS_BIAS=bias is not None, HAS_SEQ=seq_idx is not None, SILU=silu, GRAD=grad is not None,
        BLOCK_L=block_l, BLOCK_D=block_d,
    )
    return out


def _backward_inputs(x: Tensor, weight: Tensor, seq_idx: Tensor | None, grad_pre: Tensor) -> tuple[Tensor, Tensor]:
    """``(dx (B, D, L) in x.dtype, dw (D, W) float32)`` from the pre-activation gradient."""
    batch, dim, length = x.shape
    width = weight.shape[1]
    block_l, block_d = _blocks(length, dim)
    num_l_blocks = triton.cdiv(length, block_l)
    dx = torch.empty(batch, length, dim, device=x.device, dtype=x.dtype).transpose(1, 2)
    dw_part = torch.empty(batch * num_l_blocks, dim, width, device=x.device, dtype=torch.float32)
    seq = seq_idx if seq_idx is not None else x
    grid = (batch, num_l_blocks, triton.cdiv(dim, block_d))
    _conv_bwd_kernel[grid](
        x, weight, seq, grad_pre, dx, dw_part,
        length, dim, num_l_blocks,
        x.stride(0), x.stride(1), x.stride(2),
        weight.stride(0), weight.stride(1),
        seq.stride(0) if seq_idx is not None else 0, seq.stride(1) if seq_idx is not None else 0,
        grad_pre.stride(0), grad_pre.stride(1), grad_pre.stride(2),
        dx.stride(0), dx.stride(1), dx.stride(2),
        WIDTH=width, HAS_SEQ=seq_idx is not None, BLOCK_L=block_l, BLOCK_D=block_d,
    )
    return dx, dw_part.sum(dim=0)


class _CausalConv1dTriton(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, seq_idx, silu):
        ctx.save_for_backward(x, weight, bias, seq_idx)
        ctx.silu = silu
        return _forward(x, weight, bias, seq_idx, silu)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight, bias, seq_idx = ctx.saved_tensors
        grad_pre = _forward(x, weight, bias, seq_idx, ctx.silu, grad=grad_out)  # (B, D, L) float32
        dx, dw = _backward_inputs(x, weight, seq_idx, grad_pre)
        db = grad_pre.sum(dim=(0, 2)).to(bias.dtype) if bias is not None and ctx.needs_input_grad[2] else None
        return dx, dw.to(weight.dtype), db, None, None


def causal_conv1d_triton(x: Tensor, weight: Tensor, bias: Tensor | None = None, seq_idx: Tensor | None = None,
                         activation: str | None = None) -> Tensor:
    """Causal depthwise conv1d on ``x (B, D, L)``, ``weight (D, W)``, ``bias (D,)``, ``seq_idx (B, L)``.

    Differentiable in ``x``, ``weight`` and ``bias``; float32 accumulation, output in ``x.dtype``
    (channel-last memory). ``activation``: ``None`` or ``"silu"``/``"swish"``.
    """
    if seq_idx is not None:
        seq_idx = seq_idx.to(torch.int32)
    return _CausalConv1dTriton.apply(x, weight, bias, seq_idx, activation in ("silu", "swish"))
