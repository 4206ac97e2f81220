"""What ``torch.compile`` traces, checked eagerly (no default test compiles anything, issue 15).

The reference ops take a compile-friendly branch while ``torch.compiler.is_compiling()`` is true
(chunks of exactly ``chunk_size``, no data-dependent branches, no kernel lookups). Patching that
function (and ``ssd_ref.tracing_symbolic_length``) to return ``True`` runs the same branch
eagerly, where it is compared with the float64 oracles; the closed-form chunk-state passing and
the masked causal conv are compared with their plain definitions.
"""

from __future__ import annotations

import pytest
import torch
from slr_models import create_model
from slr_models.layers import Packing
from slr_models.ops import (
    _backends,
    add_norm,
    causal_conv1d,
    rms_norm_gated,
    ssd_scan,
    ssd_scan_sequential_ref,
)
from slr_models.ops.conv import causal_conv1d_ref
from slr_models.ops import ssd_ref
from slr_models.ops.ssd_ref import _pass_states, _pass_states_sequential

KEYS = ("x", "dt", "A", "B", "C")


@pytest.fixture
def tracing(monkeypatch):
    """Make the ops believe ``torch.compile`` is tracing them (the scan: with a dynamic length)."""
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)
    monkeypatch.setattr(ssd_ref, "tracing_symbolic_length", lambda length: True)


@pytest.mark.parametrize("length", [1, 7, 8, 23])
@pytest.mark.parametrize("with_seq_idx", [False, True])
def test_ssd_compile_branch_matches_the_recurrence(models_ssd_inputs, tracing, length, with_seq_idx):
    inputs = models_ssd_inputs(b=2, l=length, h=4, p=3, g=2, n=5, requires_grad=True)
    args = [inputs[k] for k in KEYS]
    kwargs = {k: v for k, v in inputs.items() if k not in KEYS}
    seq_idx = None
    if with_seq_idx:
        cut = max(1, length // 3)
        seq_idx = torch.stack([torch.arange(length) >= cut, torch.arange(length) >= 2 * cut]).to(torch.int32)
    y, final = ssd_scan(*args, **kwargs, dt_softplus=True, chunk_size=4, seq_idx=seq_idx,
                        return_final_states=True, backend="auto")
    y_seq, final_seq = ssd_scan_sequential_ref(*args, **kwargs, dt_softplus=True, seq_idx=seq_idx,
                                               return_final_states=True)
    torch.testing.assert_close(y, y_seq, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(final, final_seq, rtol=1e-10, atol=1e-10)
    grads = torch.autograd.grad((y.sum(), final.sum()), list(inputs.values()))
    grads_seq = torch.autograd.grad((y_seq.sum(), final_seq.sum()), list(inputs.values()))
    for name, got, want in zip(inputs, grads, grads_seq):
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9, msg=name)


def _pass_states_loop(states, log_carry, breaks, initial):
    b, g, c, r, p, n = states.shape
    carry = log_carry.exp() if breaks is None else log_carry.exp() * ~breaks
    state = states.new_zeros(b, g, r, p, n) if initial is None else initial
    entering = []
    for k in range(c):
        entering.append(state)
        state = carry[:, :, k].view(b, g, r, 1, 1) * state + states[:, :, k]
    return torch.stack(entering, dim=2), state


@pytest.mark.parametrize("with_breaks", [False, True])
@pytest.mark.parametrize("with_initial", [False, True])
def test_closed_form_state_passing_matches_the_loop(with_breaks, with_initial):
    torch.manual_seed(0)
    b, g, c, r, p, n = 2, 2, 6, 3, 2, 4
    states = torch.randn(b, g, c, r, p, n, dtype=torch.float64)
    log_carry = -torch.rand(b, g, c, r, dtype=torch.float64) * 3
    breaks = torch.rand(b, 1, c, 1) < 0.4 if with_breaks else None
    initial = torch.randn(b, g, r, p, n, dtype=torch.float64) if with_initial else None
    entering, final = _pass_states(states, log_carry, breaks, initial)
    for loop in (_pass_states_loop, _pass_states_sequential):  # the definition, the eager path
        entering_loop, final_loop = loop(states, log_carry, breaks, initial)
        torch.testing.assert_close(entering, entering_loop, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(final, final_loop, rtol=1e-12, atol=1e-12)


def _conv_by_definition(x, weight, bias, seq_idx):
    """``out[:, d, t] = bias[d] + sum_k weight[d, k] x[:, d, t - w + 1 + k]`` over taps in ``t``'s segment."""
    batch, dim, length = x.shape
    width = weight.shape[1]
    out = bias.view(1, dim, 1).expand(batch, dim, length).clone()
    for t in range(length):
        for k in range(width):
            s = t - (width - 1) + k
            if s >= 0:
                same = (seq_idx[:, s] == seq_idx[:, t]).to(x.dtype).view(batch, 1)
                out[:, :, t] += weight[:, k] * x[:, :, s] * same
    return out * (seq_idx >= 0).unsqueeze(1)


def test_masked_conv_matches_its_definition():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 13, dtype=torch.float64)
    weight, bias = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    seq_idx = torch.tensor([[0] * 13, [0, 0, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3],
                            [0, 0, 0, 0, 0, 1, 1, 1, 1, -1, -1, -1, -1]], dtype=torch.int32)
    got = causal_conv1d_ref(x, weight, bias, seq_idx=seq_idx)
    torch.testing.assert_close(got, _conv_by_definition(x, weight, bias, seq_idx), rtol=1e-12, atol=1e-12)


def test_auto_takes_the_reference_without_looking_up_kernels_while_tracing(tracing, monkeypatch,
                                                                          models_ssd_inputs):
    def no_lookup():
        raise AssertionError("fast_kernels() was called while tracing")

    for module in ("_backends", "ssd", "norm", "conv"):
        monkeypatch.setattr(f"slr_models.ops.{module}.fast_kernels", no_lookup)
    inputs = models_ssd_inputs(b=1, l=5, h=2, p=2, g=1, n=3)
    ssd_scan(*[inputs[k] for k in KEYS], chunk_size=4, backend="auto")
    x = torch.randn(2, 6, 8)
    add_norm(x, torch.ones(8), torch.zeros(8), residual=x, backend="auto")
    rms_norm_gated(x, torch.ones(8), z=x, backend="auto")
    causal_conv1d(x, torch.randn(6, 4), backend="auto")
    assert _backends.takes_reference("auto") and _backends.takes_reference("reference")
    assert not _backends.takes_reference("mamba_ssm")


def test_packing_holds_only_tensors():
    packing = Packing.from_lengths(torch.tensor([3, 1, 2]))
    assert all(torch.is_tensor(v) for v in vars(packing).values())
    assert packing.max_length == 3 and packing.seq_idx.tolist() == [0, 0, 0, 1, 2, 2]
    assert Packing.from_lengths(torch.zeros(0, dtype=torch.int64)).max_length == 0


def test_compile_regions_cover_the_stem_and_every_mixer():
    model = create_model("slr_mamba_tiny", 7, depth=2)
    regions = model.compile_regions()
    assert regions[0] is model.stem
    expected = [m for block in model.blocks for m in (block.spatial, block.temporal, block.ffn)]
    assert regions[1:] == expected
    assert len({type(r) for r in regions}) == 4  # one compiled graph per class serves every block
