"""Reference vs fast CUDA kernels (mamba-ssm, causal-conv1d): outputs and gradients.

Skipped unless a CUDA device is present and the optional kernels import. Tolerances are
dtype-aware (see ``testkit/slr_models_parity.py``). The same kernels run on the CPU under Triton's
interpreter in ``test_triton_interpret.py``.
"""

from __future__ import annotations

import pytest
import torch

from slr_models.ops import add_norm, available_backends, causal_conv1d, rms_norm_gated, ssd_scan
from slr_models_parity import compare_to_reference as _compare

pytestmark = pytest.mark.cuda

CUDA = torch.cuda.is_available()
needs_mamba = pytest.mark.skipif(
    not (CUDA and available_backends()["mamba_ssm"]), reason="needs CUDA and an importable mamba-ssm"
)
needs_conv = pytest.mark.skipif(
    not (CUDA and available_backends()["causal_conv1d"]), reason="needs CUDA and an importable causal-conv1d"
)
needs_triton = pytest.mark.skipif(
    not (CUDA and available_backends()["triton"]), reason="needs CUDA and triton (slr's Triton conv)"
)


@needs_mamba
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("with_seq_idx", [False, True])
def test_ssd_scan_mamba_ssm_matches_reference(dtype, with_seq_idx):
    torch.manual_seed(0)
    dev = "cuda"
    b, l, h, p, g, n = 2, 200, 4, 32, 2, 16
    inputs = dict(
        x=torch.randn(b, l, h, p, device=dev, dtype=dtype),
        dt=(torch.randn(b, l, h, device=dev) - 1.0).to(dtype),
        A=-(torch.rand(h, device=dev) * 2 + 0.5),
        B=torch.randn(b, l, g, n, device=dev, dtype=dtype) / 4,
        C=torch.randn(b, l, g, n, device=dev, dtype=dtype) / 4,
        D=torch.randn(h, device=dev),
        z=torch.randn(b, l, h, p, device=dev, dtype=dtype),
        dt_bias=torch.randn(h, device=dev) * 0.5,
        initial_states=torch.randn(b, h, p, n, device=dev) * 0.5,
    )
    seq_idx = None
    if with_seq_idx:
        lengths = torch.tensor([[70, 30, 100], [13, 150, 37]])
        seq_idx = torch.stack([torch.repeat_interleave(torch.arange(3), row) for row in lengths]).to(dev, torch.int32)
    grad_out = [torch.randn(b, l, h, p, device=dev, dtype=dtype), torch.randn(b, h, p, n, device=dev)]

    def call(backend):
        def fn(x, dt, A, B, C, D, z, dt_bias, initial_states):
            y, final = ssd_scan(x, dt, A, B, C, D=D, z=z, dt_bias=dt_bias, dt_softplus=True, chunk_size=64,
                                seq_idx=seq_idx, initial_states=initial_states, return_final_states=True,
                                backend=backend)
            return y, final.float() if final.dtype != torch.float64 else final
        return fn

    _compare(call("mamba_ssm"), call("reference"), inputs, dtype, grad_out)


CONV_KERNELS = [pytest.param("causal_conv1d", w, marks=needs_conv, id=f"causal_conv1d-w{w}") for w in (2, 4)] + [
    pytest.param("triton", w, marks=needs_triton, id=f"triton-w{w}") for w in (2, 4, 5)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("kernel, width", CONV_KERNELS)
def test_conv_kernels_match_reference_with_seq_idx(dtype, kernel, width):
    torch.manual_seed(0)
    dev = "cuda"
    b, l, d = 3, 157, 64
    seq_idx = torch.stack([torch.repeat_interleave(torch.arange(3), torch.tensor(row))
                           for row in ([50, 7, 100], [1, 1, 155], [157, 0, 0])]).to(dev, torch.int32)
    inputs = dict(
        rows=torch.randn(b, l, d, device=dev, dtype=dtype),
        weight=torch.randn(d, width, device=dev) / width,
        bias=torch.randn(d, device=dev),
    )
    grad_out = [torch.randn(b, d, l, device=dev, dtype=dtype)]

    def call(backend):
        def fn(rows, weight, bias):
            x = rows.transpose(1, 2)  # channel-last (batch, dim, length)
            return causal_conv1d(x, weight, bias, seq_idx=seq_idx, activation="silu", backend=backend)
        return fn

    _compare(call(kernel), call("reference"), inputs, dtype, grad_out)


@needs_mamba
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("is_rms_norm", [False, True])
def test_add_norm_kernel_matches_reference(dtype, is_rms_norm):
    torch.manual_seed(0)
    dev = "cuda"
    inputs = dict(
        x=torch.randn(4, 33, 96, device=dev, dtype=dtype),
        residual=torch.randn(4, 33, 96, device=dev),
        weight=torch.randn(96, device=dev),
        bias=torch.randn(96, device=dev),
    )
    grad_out = [torch.randn(4, 33, 96, device=dev, dtype=dtype), torch.randn(4, 33, 96, device=dev)]

    def call(backend):
        def fn(x, residual, weight, bias):
            return add_norm(x, weight, bias, residual=residual, eps=1e-5, is_rms_norm=is_rms_norm, prenorm=True,
                            residual_in_fp32=True, backend=backend)
        return fn

    _compare(call("mamba_ssm"), call("reference"), inputs, dtype, grad_out)


@needs_mamba
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_rms_norm_gated_kernel_matches_reference(dtype):
    torch.manual_seed(0)
    dev = "cuda"
    inputs = dict(
        x=torch.randn(5, 17, 128, device=dev, dtype=dtype),
        z=torch.randn(5, 17, 128, device=dev, dtype=dtype),
        weight=torch.randn(128, device=dev),
    )
    grad_out = [torch.randn(5, 17, 128, device=dev, dtype=dtype)]

    def call(backend):
        def fn(x, z, weight):
            return rms_norm_gated(x, weight, z, eps=1e-5, group_size=64, norm_before_gate=False, backend=backend)
        return fn

    _compare(call("mamba_ssm"), call("reference"), inputs, dtype, grad_out)


@pytest.mark.skipif(not CUDA, reason="needs CUDA")
def test_reference_runs_on_cuda():
    x = torch.randn(1, 10, 2, 4, device="cuda")
    dt = torch.rand(1, 10, 2, device="cuda")
    B = torch.randn(1, 10, 1, 3, device="cuda")
    y = ssd_scan(x, dt, -torch.ones(2, device="cuda"), B, B, backend="reference")
    y_cpu = ssd_scan(x.cpu(), dt.cpu(), -torch.ones(2), B.cpu(), B.cpu(), backend="reference")
    torch.testing.assert_close(y.cpu(), y_cpu, rtol=1e-4, atol=1e-4)


@needs_mamba
def test_model_fast_backend_matches_reference_on_cuda():
    """Same weights, ``backend="mamba_ssm"`` vs ``"reference"``: log-probs and a gradient agree (fp32)."""
    from slr_models import create_model

    torch.manual_seed(0)
    model = create_model("slr_mamba_tiny", 21, d_model=64, headdim=16).cuda().eval()
    lengths = torch.tensor([9, 30, 17], device="cuda")
    frames = torch.randn(int(lengths.sum()), 3, 32, 32, device="cuda")
    results = {}
    for backend in ("reference", "mamba_ssm"):
        model.set_backend(backend)
        model.zero_grad()
        out = model(frames, lengths)
        out.log_probs[:, :, 1].sum().backward()
        results[backend] = (out.log_probs.detach(), model.stem.patchify.weight.grad.clone())
    (ref_out, ref_grad), (fast_out, fast_grad) = results["reference"], results["mamba_ssm"]
    assert (fast_out - ref_out).abs().max().item() < 2e-2
    assert (fast_grad - ref_grad).abs().max().item() <= 2e-2 * ref_grad.abs().max().item() + 1e-4
