"""Fast kernel vs reference comparisons shared by the CUDA tests and the Triton-interpreter tests.

Tolerances are dtype-aware: each fast result is compared with a float64 reference computed from
the same (rounded) inputs and must be within ``3 * (error of the reference run in the same dtype)``
plus a dtype-dependent floor (times the largest true value): on GPUs Triton runs float32 dot
products in TF32.
"""

from __future__ import annotations

from typing import Callable

import torch

# Relative error floors (x max |truth|) for outputs and for gradients (longer sums, more rounding).
FLOOR = {torch.float32: 5e-3, torch.float16: 1e-2, torch.bfloat16: 3e-2}
GRAD_FLOOR = {torch.float32: 1e-2, torch.float16: 2e-2, torch.bfloat16: 5e-2}


def _leaf(t: torch.Tensor, dtype=None) -> torch.Tensor:
    return t.detach().to(dtype or t.dtype).clone().requires_grad_(True)


def assert_close_to_truth(name, fast, ref_low, truth, floor) -> None:
    """``|fast - truth| <= 3 |ref_low - truth| + floor * max|truth|``, elementwise maxima."""
    truth = truth.double()
    scale = truth.abs().max().item() + 1e-6
    err_fast = (fast.double() - truth).abs().max().item()
    err_ref = (ref_low.double() - truth).abs().max().item()
    bound = 3 * err_ref + floor * scale
    assert err_fast <= bound, f"{name}: fast error {err_fast:.3e} > bound {bound:.3e} (ref error {err_ref:.3e})"


def run_with_grads(fn: Callable, inputs: dict, grad_out: list[torch.Tensor]):
    """``fn(**leaves)`` and the gradients of every floating input for the given output gradients."""
    leaves = {k: (_leaf(v) if v.is_floating_point() else v) for k, v in inputs.items()}
    out = fn(**leaves)
    outs = out if isinstance(out, tuple) else (out,)
    torch.autograd.backward(outs, grad_out[: len(outs)])
    grads = {k: v.grad for k, v in leaves.items() if v.is_floating_point() and v.grad is not None}
    return outs, grads


def compare_to_reference(fast_fn: Callable, ref_fn: Callable, inputs: dict, dtype: torch.dtype,
                         grad_out: list[torch.Tensor]) -> None:
    """Run ``fast_fn`` and ``ref_fn`` on ``inputs`` and ``ref_fn`` on float64 copies; compare outputs and
    the gradients of every floating input (each input must receive one from both)."""
    as64 = {k: (v.double() if v.is_floating_point() else v) for k, v in inputs.items()}
    outs_fast, grads_fast = run_with_grads(fast_fn, inputs, grad_out)
    outs_ref, grads_ref = run_with_grads(ref_fn, inputs, grad_out)
    outs_64, grads_64 = run_with_grads(ref_fn, as64, [g.double() for g in grad_out])
    assert len(outs_fast) == len(outs_64), f"fast returned {len(outs_fast)} outputs, reference {len(outs_64)}"
    for i, (f, r, t) in enumerate(zip(outs_fast, outs_ref, outs_64)):
        assert f.shape == t.shape, f"output {i}: shape {tuple(f.shape)} != {tuple(t.shape)}"
        assert_close_to_truth(f"output {i}", f, r, t, FLOOR[dtype])
    assert set(grads_fast) == set(grads_64), f"gradients for {sorted(grads_fast)} vs {sorted(grads_64)}"
    for name in grads_64:
        assert_close_to_truth(f"grad {name}", grads_fast[name], grads_ref[name], grads_64[name], GRAD_FLOOR[dtype])


def segment_ids(rows: list[list[int]], device) -> torch.Tensor:
    """``(len(rows), sum(row))`` int32 packed segment ids, e.g. ``[[3, 2]] -> [[0, 0, 0, 1, 1]]``."""
    return torch.stack([torch.repeat_interleave(torch.arange(len(row)), torch.tensor(row)) for row in rows]).to(
        device, torch.int32)


def model_backend_parity(model: torch.nn.Module, frames: torch.Tensor, lengths: torch.Tensor,
                         backends=("reference", "mamba_ssm"), heatmaps: torch.Tensor | None = None):
    """Forward + backward of ``model`` (eval mode) under each backend on the same weights and inputs.

    Returns ``{backend: (log_probs (T, B, V) of the valid frames only, {param name: grad})}``; the loss is
    a fixed random projection of the valid log-probs, so every parameter gets a gradient.
    """
    gen = torch.Generator().manual_seed(0)
    results = {}
    for backend in backends:
        model.set_backend(backend)
        model.zero_grad(set_to_none=True)
        kwargs = {} if heatmaps is None else {"heatmaps": heatmaps}
        out = model(frames, lengths, **kwargs)
        valid = torch.arange(out.log_probs.shape[0], device=frames.device)[:, None] < out.lengths[None, :]
        probe = torch.randn(out.log_probs.shape, generator=gen).to(frames.device)
        gen.manual_seed(0)
        (out.log_probs * probe * valid[..., None]).sum().backward()
        grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
        results[backend] = (out.log_probs.detach() * valid[..., None], grads)
    return results
