"""causal_conv1d (packed sequences) and the fused add+norm / gated RMSNorm references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from slr_models.ops import (
    add_norm,
    add_norm_ref,
    causal_conv1d,
    causal_conv1d_ref,
    rms_norm_gated,
    rms_norm_gated_ref,
)


def _naive_causal_conv(x, weight, bias, seq_idx):
    """Loop over positions and taps: the definition, for comparison."""
    b, d, l = x.shape
    width = weight.shape[1]
    out = torch.zeros_like(x)
    for t in range(l):
        for k in range(width):
            src = t - (width - 1) + k
            if src < 0:
                continue
            if seq_idx is None:
                ok = torch.ones(b, 1, dtype=x.dtype)
            else:
                ok = (seq_idx[:, src] == seq_idx[:, t]).to(x.dtype)[:, None]
            out[:, :, t] += weight[:, k] * x[:, :, src] * ok
        if bias is not None:
            out[:, :, t] += bias
    return out


@pytest.mark.parametrize("width", [1, 2, 3, 4])
@pytest.mark.parametrize("with_seq_idx", [False, True])
def test_causal_conv_matches_definition(models_seed, width, with_seq_idx):
    x = torch.randn(2, 5, 11, dtype=torch.float64)
    weight = torch.randn(5, width, dtype=torch.float64)
    bias = torch.randn(5, dtype=torch.float64)
    seq_idx = torch.tensor([[0, 0, 0, 1, 1, 2, 2, 2, 2, 2, 2], [0] * 11], dtype=torch.int32) if with_seq_idx else None
    out = causal_conv1d(x, weight, bias, seq_idx=seq_idx)
    torch.testing.assert_close(out, _naive_causal_conv(x, weight, bias, seq_idx))
    torch.testing.assert_close(causal_conv1d(x, weight, bias, seq_idx=seq_idx, activation="silu"),
                               F.silu(out))


def test_causal_conv_packing_equals_separate_calls(models_seed, models_packed_seq_idx):
    lengths = [4, 1, 7]
    rows = torch.randn(sum(lengths), 16)  # (length, dim): channel-last like in the model
    x = rows.T.unsqueeze(0)
    weight, bias = torch.randn(16, 4), torch.randn(16)
    packed = causal_conv1d(x, weight, bias, seq_idx=models_packed_seq_idx(lengths), activation="silu")
    start = 0
    for length in lengths:
        alone = causal_conv1d(x[..., start:start + length], weight, bias, activation="silu")
        torch.testing.assert_close(packed[..., start:start + length], alone)
        start += length


def test_causal_conv_negative_seq_idx_is_padding(models_seed):
    x = torch.randn(1, 3, 6)
    seq_idx = torch.tensor([[0, 0, 0, -1, -1, -1]], dtype=torch.int32)
    out = causal_conv1d(x, torch.randn(3, 3), torch.randn(3), seq_idx=seq_idx)
    assert torch.all(out[..., 3:] == 0)


def test_causal_conv_gradcheck(models_seed):
    x = torch.randn(1, 2, 7, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(2, dtype=torch.float64, requires_grad=True)
    seq_idx = torch.tensor([[0, 0, 1, 1, 1, 2, 2]], dtype=torch.int32)
    assert torch.autograd.gradcheck(
        lambda *t: causal_conv1d_ref(*t, seq_idx=seq_idx, activation="silu"), (x, weight, bias)
    )


def test_causal_conv_errors():
    with pytest.raises(ValueError, match="expected x"):
        causal_conv1d(torch.randn(2, 3), torch.randn(3, 4))
    with pytest.raises(ValueError, match="seq_idx"):
        causal_conv1d(torch.randn(1, 3, 5), torch.randn(3, 4), seq_idx=torch.zeros(1, 4, dtype=torch.int32))
    with pytest.raises(ValueError, match="activation"):
        causal_conv1d(torch.randn(1, 3, 5), torch.randn(3, 4), activation="relu")
    with pytest.raises(RuntimeError, match="causal_conv1d"):
        causal_conv1d(torch.randn(1, 8, 5), torch.randn(8, 4), backend="causal_conv1d")


@pytest.mark.parametrize("is_rms_norm", [False, True])
def test_add_norm_reference(models_seed, is_rms_norm):
    x, res = torch.randn(3, 4, 8), torch.randn(3, 4, 8)
    w, b = torch.randn(8), torch.randn(8)
    y, res_out = add_norm(x, w, b, residual=res, eps=1e-5, is_rms_norm=is_rms_norm, prenorm=True)
    s = x + res
    if is_rms_norm:
        expected = s / torch.sqrt(s.pow(2).mean(-1, keepdim=True) + 1e-5) * w + b
    else:
        expected = F.layer_norm(s, (8,), w, b, 1e-5)
    torch.testing.assert_close(y, expected)
    torch.testing.assert_close(res_out, s)
    torch.testing.assert_close(add_norm(x, w, b, eps=1e-5, is_rms_norm=is_rms_norm),
                               add_norm(x, w, b, residual=torch.zeros_like(x), eps=1e-5, is_rms_norm=is_rms_norm))


def test_add_norm_dtypes_follow_mamba_ssm(models_seed):
    x = torch.randn(2, 8, dtype=torch.bfloat16)
    w = torch.ones(8)
    y, res = add_norm(x, w, prenorm=True, residual_in_fp32=True)
    assert y.dtype == torch.bfloat16 and res.dtype == torch.float32
    y, res = add_norm(x, w, residual=torch.randn(2, 8), prenorm=True)
    assert y.dtype == torch.bfloat16 and res.dtype == torch.float32
    y, res = add_norm(x, w, prenorm=True)
    assert res.dtype == torch.bfloat16


def test_add_norm_gradcheck(models_seed):
    tensors = [torch.randn(2, 5, dtype=torch.float64, requires_grad=True) for _ in range(2)]
    w = torch.randn(5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(5, dtype=torch.float64, requires_grad=True)
    for rms in (False, True):
        assert torch.autograd.gradcheck(
            lambda x, r, w, b: add_norm_ref(x, w, b, residual=r, is_rms_norm=rms, prenorm=True), (*tensors, w, b)
        )


@pytest.mark.parametrize("norm_before_gate", [False, True])
@pytest.mark.parametrize("group_size", [None, 3])
def test_rms_norm_gated(models_seed, norm_before_gate, group_size):
    x, z, w = torch.randn(4, 6), torch.randn(4, 6), torch.randn(6)
    out = rms_norm_gated(x, w, z, eps=1e-5, group_size=group_size, norm_before_gate=norm_before_gate)
    gs = group_size or 6
    h = x if norm_before_gate else x * F.silu(z)
    hg = h.view(4, 6 // gs, gs)
    expected = (hg / torch.sqrt(hg.pow(2).mean(-1, keepdim=True) + 1e-5)).view(4, 6) * w
    if norm_before_gate:
        expected = expected * F.silu(z)
    torch.testing.assert_close(out, expected)
    x64, z64 = x.double().requires_grad_(), z.double().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda a, b: rms_norm_gated_ref(a, w.double(), b, group_size=group_size, norm_before_gate=norm_before_gate),
        (x64, z64),
    )


def test_norm_errors():
    with pytest.raises(ValueError, match="weight"):
        add_norm(torch.randn(2, 4), torch.ones(5))
    with pytest.raises(ValueError, match="residual"):
        add_norm(torch.randn(2, 4), torch.ones(4), residual=torch.randn(3, 4))
    with pytest.raises(ValueError, match="group_size"):
        rms_norm_gated(torch.randn(2, 4), torch.ones(4), group_size=3)
