"""The fast path on the CPU: mamba-ssm's and slr's real Triton kernels under Triton's interpreter.

CI has no GPU, so this module runs the kernels that ``backend="mamba_ssm"`` uses on CUDA
(``mamba_chunk_scan_combined``, ``layer_norm_fn``, ``rmsnorm_fn`` from mamba-ssm, installed in the
test environment without compiling anything; slr's Triton causal conv) with ``TRITON_INTERPRET=1``
on CPU tensors, against the pure-PyTorch references: outputs and the gradients of every input,
then whole models on both backends with the same weights. The interpreter executes the same
kernel code as the GPU, only in numpy (float32 dot products instead of TF32).

Skipped when mamba-ssm is not installed, unless ``SLR_REQUIRE_FAST_PATH_TESTS=1`` (set by the
workspace's test environment, so CI cannot silently skip them).
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest
import torch

from slr_models.ops import add_norm, causal_conv1d, rms_norm_gated, ssd_scan
from slr_models_parity import compare_to_reference, model_backend_parity, segment_ids

_INSTALLED = importlib.util.find_spec("mamba_ssm") is not None and importlib.util.find_spec("triton") is not None
_REQUIRED = os.environ.get("SLR_REQUIRE_FAST_PATH_TESTS") == "1"
if not _INSTALLED and _REQUIRED:
    raise RuntimeError("SLR_REQUIRE_FAST_PATH_TESTS=1 but mamba-ssm/triton are not installed in this environment "
                       "(the workspace test env installs mamba-ssm with MAMBA_SKIP_CUDA_BUILD=TRUE)")
pytestmark = pytest.mark.skipif(not _INSTALLED, reason="mamba-ssm (Triton kernels) is not installed")

F32 = torch.float32


@pytest.fixture(scope="module", autouse=True)
def models_triton_interpreter():
    from slr_models_interpret import triton_interpreter

    with triton_interpreter():
        yield


def test_kernels_load_without_mamba_ssm_init():
    from slr_models.ops._backends import available_backends, fast_kernels

    kernels = fast_kernels()
    assert kernels.interpreted
    assert available_backends() == {"mamba_ssm": True, "causal_conv1d": False, "triton": True} or \
        available_backends()["causal_conv1d"]
    # The package __init__ (CUDA extension, transformers) never ran; the kernels' modules did.
    assert "mamba_ssm.ops.triton.ssd_combined" in sys.modules
    assert "mamba_ssm.ops.selective_scan_interface" not in sys.modules
    assert "mamba_ssm.modules.mamba_simple" not in sys.modules
    assert kernels.mamba_chunk_scan_combined.__module__ == "mamba_ssm.ops.triton.ssd_combined"


def _ssd_inputs(b, l, h, p, g, n, d_shape, with_z, with_init):
    gen = torch.Generator().manual_seed(b * 1000 + l)

    def r(*shape, scale=1.0):
        return torch.randn(*shape, generator=gen) * scale

    inputs = dict(x=r(b, l, h, p), dt=r(b, l, h, scale=0.5) - 1.0, A=-(torch.rand(h, generator=gen) * 2 + 0.5),
                  B=r(b, l, g, n, scale=0.5), C=r(b, l, g, n, scale=0.5), D=r(*d_shape), dt_bias=r(h, scale=0.5))
    if with_z:
        inputs["z"] = r(b, l, h, p)
    if with_init:
        inputs["initial_states"] = r(b, h, p, n, scale=0.5)
    return inputs


SSD_CASES = {
    # groups > 1, D (h,), z, segment boundaries inside 16-position chunks (and one empty segment)
    "groups-seqidx-z": dict(shape=(1, 40, 4, 8, 2, 8), d_shape=(4,), z=True, init=False,
                            seq=[[13, 20, 7]], final=False),
    # initial_states + return_final_states, D (h, p), one group
    "init-final-Dhp": dict(shape=(2, 20, 2, 4, 1, 8), d_shape=(2, 4), z=False, init=True, seq=None, final=True),
    # all together: packed segments starting at id 0 take the initial state, final state of the last one
    "everything": dict(shape=(1, 36, 2, 4, 2, 4), d_shape=(2, 4), z=True, init=True, seq=[[9, 17, 10]],
                       final=True),
}


@pytest.mark.parametrize("case", sorted(SSD_CASES))
def test_ssd_scan_kernel_matches_reference(case):
    spec = SSD_CASES[case]
    b, l, h, p, g, n = spec["shape"]
    inputs = _ssd_inputs(b, l, h, p, g, n, spec["d_shape"], spec["z"], spec["init"])
    seq_idx = segment_ids(spec["seq"], "cpu") if spec["seq"] else None
    gen = torch.Generator().manual_seed(1)
    grad_out = [torch.randn(b, l, h, p, generator=gen), torch.randn(b, h, p, n, generator=gen)]

    def call(backend):
        def fn(**kw):
            out = ssd_scan(**kw, dt_softplus=True, chunk_size=16, seq_idx=seq_idx,
                           return_final_states=spec["final"], backend=backend)
            return out if spec["final"] else (out,)
        return fn

    compare_to_reference(call("mamba_ssm"), call("reference"), inputs, F32, grad_out)


@pytest.mark.parametrize("is_rms_norm", [False, True])
@pytest.mark.parametrize("with_residual", [False, True])
def test_add_norm_kernel_matches_reference(is_rms_norm, with_residual):
    gen = torch.Generator().manual_seed(2)
    inputs = dict(x=torch.randn(3, 11, 48, generator=gen), weight=torch.randn(48, generator=gen),
                  bias=torch.randn(48, generator=gen))
    if with_residual:
        inputs["residual"] = torch.randn(3, 11, 48, generator=gen)
    grad_out = [torch.randn(3, 11, 48, generator=gen), torch.randn(3, 11, 48, generator=gen)]

    def call(backend):
        def fn(**kw):
            return add_norm(**kw, eps=1e-5, is_rms_norm=is_rms_norm, prenorm=True, residual_in_fp32=True,
                            backend=backend)
        return fn

    compare_to_reference(call("mamba_ssm"), call("reference"), inputs, F32, grad_out)


@pytest.mark.parametrize("norm_before_gate", [False, True])
def test_rms_norm_gated_kernel_matches_reference(norm_before_gate):
    gen = torch.Generator().manual_seed(3)
    inputs = dict(x=torch.randn(4, 9, 64, generator=gen), z=torch.randn(4, 9, 64, generator=gen),
                  weight=torch.randn(64, generator=gen))
    grad_out = [torch.randn(4, 9, 64, generator=gen)]

    def call(backend):
        def fn(x, z, weight):
            return rms_norm_gated(x, weight, z, eps=1e-5, group_size=16, norm_before_gate=norm_before_gate,
                                  backend=backend)
        return fn

    compare_to_reference(call("mamba_ssm"), call("reference"), inputs, F32, grad_out)


@pytest.mark.parametrize("width", [2, 4, 5])
@pytest.mark.parametrize("layout", ["channel-last", "contiguous"])
@pytest.mark.parametrize("activation", ["silu", None])
def test_triton_conv_kernel_matches_reference(width, layout, activation):
    gen = torch.Generator().manual_seed(width)
    b, l, d = 3, 70, 20
    seq_idx = segment_ids([[30, 7, 33], [1, 1, 68], [70, 0, 0]], "cpu")
    seq_idx[1, -3:] = -1  # padding positions output 0
    inputs = dict(rows=torch.randn(b, l, d, generator=gen), weight=torch.randn(d, width, generator=gen) / width,
                  bias=torch.randn(d, generator=gen))
    grad_out = [torch.randn(b, d, l, generator=gen)]

    def call(backend):
        def fn(rows, weight, bias):
            x = rows.transpose(1, 2) if layout == "channel-last" else rows.transpose(1, 2).contiguous()
            return causal_conv1d(x, weight, bias, seq_idx=seq_idx, activation=activation, backend=backend)
        return fn

    compare_to_reference(call("triton"), call("reference"), inputs, F32, grad_out)


def test_model_fast_path_picks_the_triton_conv_without_causal_conv1d():
    from slr_models.ops.conv import pick_conv_backend

    x = torch.randn(1, 8, 10).transpose(1, 2).contiguous().transpose(1, 2)
    weight = torch.randn(8, 4)
    assert pick_conv_backend("fast", x, weight) == "triton"
    assert pick_conv_backend("auto", x, weight) == "reference"  # auto never runs kernels on the CPU
    assert pick_conv_backend("fast", x.double(), weight.double()) == "reference"  # last resort


def _assert_model_parity(model, frames, lengths, heatmaps=None):
    results = model_backend_parity(model, frames, lengths, heatmaps=heatmaps)
    (ref_out, ref_grads), (fast_out, fast_grads) = results["reference"], results["mamba_ssm"]
    err = (fast_out - ref_out).abs().max().item()
    assert err <= 1e-4 * ref_out.abs().max().item() + 1e-5, f"log-probs differ by {err:.3e}"
    assert set(fast_grads) == set(ref_grads) == {n for n, p in model.named_parameters() if p.requires_grad}
    for name, ref in ref_grads.items():
        diff = (fast_grads[name] - ref).abs().max().item()
        assert diff <= 1e-3 * ref.abs().max().item() + 1e-6, f"grad {name} differs by {diff:.3e}"


# The interpreter runs ~1 ms per Triton op, per program: the models are the smallest that still have
# every layer kind (16-32 px, 2x2 patches + cls, one block, the fewest heads the layers allow).
def test_slr_mamba_tiny_mamba_ssm_backend_matches_reference():
    from slr_models import create_model

    torch.manual_seed(0)
    model = create_model("slr_mamba_tiny", 11, img_size=16, depth=1).eval()
    lengths = torch.tensor([2, 1])
    _assert_model_parity(model, torch.randn(int(lengths.sum()), 3, 16, 16), lengths)


def test_mamba_slr_model_mamba_ssm_backend_matches_reference():
    """The Mamba_SLR architecture (original layout: per-direction groups, position-split temporal halves)."""
    from slr_models import create_model

    torch.manual_seed(0)
    model = create_model("mamba_slr_tiny", 11, d_model=32, headdim=16, depth=1, attention_layers=()).eval()
    lengths = torch.tensor([2, 1])
    _assert_model_parity(model, torch.randn(int(lengths.sum()), 3, 32, 32), lengths)
