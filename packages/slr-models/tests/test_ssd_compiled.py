"""``ssd_scan(backend="compiled")``: the reference through torch.compile.

The default run never compiles: it checks the wiring with ``torch.compile`` replaced by the
identity. ``SLR_TEST_COMPILE=1`` runs the real compiled path against the reference (float32,
outputs and gradients; a minute or more on a small CPU).
"""

from __future__ import annotations

import os

import pytest
import torch
import slr_models.ops.ssd_compiled as ssd_compiled
from slr_models.ops import ssd_scan, ssd_scan_ref


def _split(inputs):
    args = [inputs[k] for k in ("x", "dt", "A", "B", "C")]
    kwargs = {k: inputs[k] for k in ("D", "z", "dt_bias", "initial_states")}
    return args, kwargs


def test_compiled_backend_calls_the_compiled_reference(models_ssd_inputs, monkeypatch):
    calls = []

    def fake_compile(fn):
        calls.append(fn)
        return fn

    monkeypatch.setattr(ssd_compiled, "_compiled", None)
    monkeypatch.setattr(torch, "compile", fake_compile)
    args, kwargs = _split(models_ssd_inputs(b=2, l=11, h=4, p=3, g=2, n=5))
    y, final = ssd_scan(*args, **kwargs, dt_softplus=True, chunk_size=4, return_final_states=True,
                        backend="compiled")
    y_ref, final_ref = ssd_scan_ref(*args, **kwargs, dt_softplus=True, chunk_size=4, return_final_states=True)
    assert calls == [ssd_scan_ref]
    torch.testing.assert_close(y, y_ref, rtol=0, atol=0)
    torch.testing.assert_close(final, final_ref, rtol=0, atol=0)


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("SLR_TEST_COMPILE") != "1", reason="compiles; set SLR_TEST_COMPILE=1")
def test_compiled_matches_reference_outputs_and_gradients(models_ssd_inputs, models_packed_seq_idx):
    inputs = models_ssd_inputs(b=2, l=24, h=4, p=8, g=2, n=8, dtype=torch.float32, requires_grad=True)
    args, kwargs = _split(inputs)
    seq_idx = models_packed_seq_idx([10, 14], batch=2)
    outs = {}
    for name, fn in (("ref", ssd_scan_ref), ("compiled", ssd_compiled.ssd_scan_compiled)):
        y, final = fn(*args, **kwargs, dt_softplus=True, chunk_size=8, seq_idx=seq_idx,
                      return_final_states=True)
        grads = torch.autograd.grad((y.square().sum() + final.sum()), list(inputs.values()))
        outs[name] = (y, final, grads)
    # float32: the compiled code sums in another order; a few ulps of the largest values
    for got, want in zip(outs["compiled"][:2], outs["ref"][:2], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * want.abs().max().item())
    for got, want in zip(outs["compiled"][2], outs["ref"][2], strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * want.abs().max().item())
