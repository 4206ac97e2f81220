"""ssd_scan: chunked reference vs the naive recurrence, gradients, packing, backends."""

from __future__ import annotations

import pytest
import torch

from slr_models import ssd_scan
from slr_models.ops import ssd_scan_ref, ssd_scan_sequential_ref

KEYS = ("x", "dt", "A", "B", "C")


def _split(inputs):
    args = [inputs[k] for k in KEYS]
    kwargs = {k: v for k, v in inputs.items() if k not in KEYS}
    return args, kwargs


@pytest.mark.parametrize("chunk_size", [1, 4, 7, 23, 64])
@pytest.mark.parametrize("with_seq_idx", [False, True])
def test_reference_matches_sequential_recurrence(models_ssd_inputs, chunk_size, with_seq_idx):
    inputs = models_ssd_inputs(b=2, l=23, h=4, p=3, g=2, n=5)
    args, kwargs = _split(inputs)
    seq_idx = None
    if with_seq_idx:
        seq_idx = torch.tensor([[0] * 5 + [1] * 11 + [2] * 7, [0] * 9 + [1] * 14], dtype=torch.int32)
    y, final = ssd_scan(*args, **kwargs, dt_softplus=True, chunk_size=chunk_size, seq_idx=seq_idx,
                        return_final_states=True, backend="reference")
    y_seq, final_seq = ssd_scan_sequential_ref(*args, **kwargs, dt_softplus=True, seq_idx=seq_idx,
                                               return_final_states=True)
    assert y.shape == (2, 23, 4, 3) and final.shape == (2, 4, 3, 5)
    torch.testing.assert_close(y, y_seq, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(final, final_seq, rtol=1e-10, atol=1e-10)


def test_optional_terms_and_head_dim_skip(models_ssd_inputs):
    inputs = models_ssd_inputs(b=1, l=9, h=2, p=4, g=1, n=3)
    x, dt, A, B, C = (inputs[k] for k in KEYS)
    D_hp = torch.randn(2, 4, dtype=torch.float64)
    y = ssd_scan(x, dt.exp(), A, B, C, D=D_hp, chunk_size=4)
    y_seq = ssd_scan_sequential_ref(x, dt.exp(), A, B, C, D=D_hp)
    torch.testing.assert_close(y, y_seq, rtol=1e-10, atol=1e-10)
    # Without D, z, bias, softplus or initial state, and without final states.
    y_plain = ssd_scan(x, dt.exp(), A, B, C, chunk_size=3)
    torch.testing.assert_close(y_plain, ssd_scan_sequential_ref(x, dt.exp(), A, B, C), rtol=1e-10, atol=1e-10)


def test_gradcheck_float64(models_ssd_inputs):
    inputs = models_ssd_inputs(b=1, l=7, h=2, p=2, g=1, n=2, requires_grad=True)
    seq_idx = torch.tensor([[0, 0, 0, 1, 1, 1, 1]], dtype=torch.int32)
    names = list(inputs)

    def fn(*tensors):
        kw = dict(zip(names, tensors))
        y, final = ssd_scan(kw.pop("x"), kw.pop("dt"), kw.pop("A"), kw.pop("B"), kw.pop("C"), **kw,
                            dt_softplus=True, chunk_size=3, seq_idx=seq_idx, return_final_states=True,
                            backend="reference")
        return y, final

    assert torch.autograd.gradcheck(fn, tuple(inputs.values()), eps=1e-6, atol=1e-6)


def test_gradients_match_sequential_recurrence(models_ssd_inputs):
    inputs = models_ssd_inputs(b=2, l=19, h=4, p=3, g=2, n=4, requires_grad=True)
    args, kwargs = _split(inputs)
    seq_idx = torch.tensor([[0] * 8 + [1] * 11, [0] * 19], dtype=torch.int32)
    weights = torch.randn(2, 19, 4, 3, dtype=torch.float64)
    grads = []
    for fn in (lambda: ssd_scan_ref(*args, **kwargs, dt_softplus=True, chunk_size=5, seq_idx=seq_idx),
               lambda: ssd_scan_sequential_ref(*args, **kwargs, dt_softplus=True, seq_idx=seq_idx)):
        (fn() * weights).sum().backward()
        grads.append([t.grad.clone() for t in inputs.values()])
        for t in inputs.values():
            t.grad = None
    for name, g_ref, g_seq in zip(inputs, *grads):
        torch.testing.assert_close(g_ref, g_seq, rtol=1e-9, atol=1e-9, msg=f"gradient of {name}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_packing_with_seq_idx_equals_separate_calls(models_ssd_inputs, models_packed_seq_idx, dtype):
    lengths = [5, 1, 12, 8]
    total = sum(lengths)
    inputs = models_ssd_inputs(b=3, l=total, h=4, p=3, g=1, n=4, dtype=dtype)
    inputs.pop("initial_states")
    args, kwargs = _split(inputs)
    seq_idx = models_packed_seq_idx(lengths, batch=3)
    y_packed, final_packed = ssd_scan(*args, **kwargs, dt_softplus=True, chunk_size=4, seq_idx=seq_idx,
                                      return_final_states=True)
    start = 0
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
    for length in lengths:
        part = [a[:, start:start + length] if a.dim() > 1 else a for a in args]
        y, final = ssd_scan(*part, D=kwargs["D"], z=kwargs["z"][:, start:start + length],
                            dt_bias=kwargs["dt_bias"], dt_softplus=True, chunk_size=4, return_final_states=True)
        torch.testing.assert_close(y_packed[:, start:start + length], y, **tol)
        start += length
    torch.testing.assert_close(final_packed, final, **tol)  # final state = last segment's


def test_initial_state_continues_a_split_sequence(models_ssd_inputs):
    inputs = models_ssd_inputs(b=2, l=20, h=2, p=3, g=1, n=4)
    inputs.pop("initial_states")
    args, kwargs = _split(inputs)
    y_full, final_full = ssd_scan(*args, **kwargs, dt_softplus=True, chunk_size=6, return_final_states=True)
    first = [a[:, :8] if a.dim() > 1 else a for a in args]
    second = [a[:, 8:] if a.dim() > 1 else a for a in args]
    kw1 = dict(kwargs, z=kwargs["z"][:, :8])
    kw2 = dict(kwargs, z=kwargs["z"][:, 8:])
    y1, state = ssd_scan(*first, **kw1, dt_softplus=True, chunk_size=6, return_final_states=True)
    y2, final = ssd_scan(*second, **kw2, dt_softplus=True, chunk_size=5, initial_states=state,
                         return_final_states=True)
    torch.testing.assert_close(torch.cat([y1, y2], dim=1), y_full, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(final, final_full, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_inputs_compute_in_float32(models_ssd_inputs, dtype):
    inputs = models_ssd_inputs(b=1, l=16, h=2, p=4, g=1, n=4)
    inputs.pop("initial_states")
    args, kwargs = _split(inputs)
    y64 = ssd_scan(*args, **kwargs, dt_softplus=True, chunk_size=8)
    low_args = [a.to(dtype) for a in args]
    low_kwargs = {k: v.to(dtype) for k, v in kwargs.items()}
    y = ssd_scan(*low_args, **low_kwargs, dt_softplus=True, chunk_size=8)
    assert y.dtype == dtype
    scale = y64.abs().max().item()
    assert (y.double() - y64).abs().max().item() < 0.05 * scale


def test_auto_backend_on_cpu_uses_reference(models_ssd_inputs):
    inputs = models_ssd_inputs(b=1, l=6, h=2, p=2, g=1, n=2, dtype=torch.float32)
    args, kwargs = _split(inputs)
    torch.testing.assert_close(ssd_scan(*args, **kwargs, backend="auto"),
                               ssd_scan(*args, **kwargs, backend="reference"))


def test_fast_backend_on_cpu_is_refused_with_a_reason(models_ssd_inputs):
    inputs = models_ssd_inputs(b=1, l=6, h=2, p=2, g=1, n=2, dtype=torch.float32)
    args, _ = _split(inputs)
    with pytest.raises(RuntimeError, match="mamba_ssm"):
        ssd_scan(*args, backend="mamba_ssm")
    with pytest.raises(ValueError, match="unknown backend"):
        ssd_scan(*args, backend="triton")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda kw: kw.update(dt=kw["dt"][..., :1]), "dt must have shape"),
        (lambda kw: kw.update(A=kw["A"][:1]), "A must have shape"),
        (lambda kw: kw.update(C=kw["C"][..., :1]), "C must have shape"),
        (lambda kw: kw.update(D=torch.ones(3, 3)), "D must have shape"),
        (lambda kw: kw.update(x=kw["x"][0]), "x must be"),
        (lambda kw: kw.update(chunk_size=0), "chunk_size"),
        (lambda kw: kw.update(seq_idx=torch.zeros(1, 6)), "integer"),
        (lambda kw: kw.update(B=torch.ones(1, 6, 3, 2), C=torch.ones(1, 6, 3, 2)), "multiple of groups"),
    ],
)
def test_bad_shapes_raise_clear_errors(models_ssd_inputs, change, message):
    inputs = models_ssd_inputs(b=1, l=6, h=2, p=2, g=1, n=2, dtype=torch.float32)
    inputs.pop("initial_states")
    change(inputs)
    with pytest.raises(ValueError, match=message):
        ssd_scan(**inputs)
