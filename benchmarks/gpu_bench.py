"""GPU benchmark: fast kernels (mamba-ssm's Triton kernels; causal-conv1d or slr's Triton conv) vs the
pure-PyTorch reference.

Needs a CUDA machine with the fast path (see benchmarks/RESULTS.md, section GPU):

    slr-models install-fast-path                        # mamba-ssm's Triton kernels, no compiler
    python benchmarks/gpu_bench.py                      # base config, bf16 autocast
    python benchmarks/gpu_bench.py --model mamba_slr_base --skip-kernels --json out.json
    python benchmarks/gpu_bench.py --frames 32 --videos 2 --repeats 5

Prints Markdown tables:

1. kernels: ``ssd_scan``, ``causal_conv1d`` and ``add_norm`` on the shapes of the base model's
   temporal layer, forward+backward time of each backend and the error of each against a float64
   reference computed from the same inputs;
2. model: forward+backward frames/s (train mode, CTC loss, bf16 autocast by default) and peak
   memory with ``backend="mamba_ssm"`` vs ``backend="reference"`` on the same weights, and the
   parity of log-probs and of two weight gradients between the two backends.

Every ratio is against the reference measured in the same run on the same GPU.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from slr_models import add_norm, causal_conv1d, create_model, ssd_scan
from slr_models.ops import available_backends


# ``--smoke-cpu`` (a check of this script on a machine without a GPU) runs everything on the CPU
# with the reference standing in for the fast backends.
DEVICE = "cuda"
FAST = {"mamba_ssm": "mamba_ssm", "conv": "fast"}  # "fast": causal-conv1d if installed, else slr's Triton conv


def cuda_time(fn, repeats: int, warmup: int) -> list[float]:
    """Wall times in seconds of ``fn()`` (synchronised with CUDA events)."""
    for _ in range(warmup):
        fn()
    if DEVICE == "cpu":
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return times
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return times


def rel_err(a: torch.Tensor, truth: torch.Tensor) -> float:
    truth = truth.double()
    return (a.double() - truth).abs().max().item() / max(truth.abs().max().item(), 1e-12)


def kernel_rows(args, dtype):
    """Op-level comparison on the base model's temporal-branch shapes."""
    dev = DEVICE
    gen = torch.Generator(device=dev).manual_seed(0)
    tokens, frames = args.tokens, args.videos * args.frames
    h, p, n, conv_dim = 8, 64, 64, 640
    seq_idx = torch.repeat_interleave(torch.arange(args.videos, device=dev, dtype=torch.int32),
                                      args.frames).expand(tokens, frames).contiguous()

    def rnd(*shape, scale=1.0, as_dtype=dtype):
        return (torch.randn(*shape, device=dev, generator=gen) * scale).to(as_dtype)

    cases = {
        "ssd_scan": (
            dict(x=rnd(tokens, frames, h, p), dt=rnd(tokens, frames, h, scale=0.5),
                 A=-torch.rand(h, device=dev, generator=gen) * 4 - 0.5, B=rnd(tokens, frames, 1, n, scale=0.2),
                 C=rnd(tokens, frames, 1, n, scale=0.2), D=torch.ones(h, device=dev),
                 dt_bias=rnd(h, scale=0.5, as_dtype=torch.float32)),
            lambda backend, x, dt, A, B, C, D, dt_bias: ssd_scan(
                x, dt, A, B, C, D=D, dt_bias=dt_bias, dt_softplus=True, chunk_size=64, seq_idx=seq_idx,
                backend=backend),
            "mamba_ssm",
        ),
        "causal_conv1d": (
            dict(rows=rnd(tokens, frames, conv_dim), weight=rnd(conv_dim, 4, scale=0.5, as_dtype=torch.float32),
                 bias=rnd(conv_dim, as_dtype=torch.float32)),
            lambda backend, rows, weight, bias: causal_conv1d(
                rows.transpose(1, 2), weight, bias, seq_idx=seq_idx, activation="silu", backend=backend),
            "conv",
        ),
        "add_norm": (
            dict(x=rnd(frames * tokens, 512), residual=rnd(frames * tokens, 512, as_dtype=torch.float32),
                 weight=rnd(512, as_dtype=torch.float32), bias=rnd(512, as_dtype=torch.float32)),
            lambda backend, x, residual, weight, bias: add_norm(
                x, weight, bias, residual=residual, eps=1e-5, prenorm=True, residual_in_fp32=True,
                backend=backend)[0],
            "mamba_ssm",
        ),
    }
    rows, records = [], []
    for name, (inputs, fn, fast) in cases.items():
        with torch.no_grad():
            truth = fn("reference", **{k: v.double() for k, v in inputs.items()})
        results = {}
        for backend in ("reference", FAST[fast]):
            leaves = {k: v.clone().requires_grad_() for k, v in inputs.items()}
            out = fn(backend, **leaves)
            grad = torch.randn_like(out)
            errors = rel_err(out, truth)

            def step():
                o = fn(backend, **leaves)
                o.backward(grad)

            times = cuda_time(step, args.repeats, args.warmup)
            results[backend] = (statistics.median(times), errors)
        t_ref, e_ref = results["reference"]
        t_fast, e_fast = results[FAST[fast]]
        rows.append(f"| {name} | {t_ref * 1e3:.2f} | {t_fast * 1e3:.2f} | {t_ref / t_fast:.1f}x | "
                    f"{e_ref:.1e} | {e_fast:.1e} |")
        records.append({"kernel": name, "reference_ms": t_ref * 1e3, "fast_ms": t_fast * 1e3,
                        "reference_rel_err": e_ref, "fast_rel_err": e_fast})
    return rows, records


def model_rows(args, dtype):
    dev = DEVICE
    torch.manual_seed(0)
    model = create_model(args.model, 1296).to(dev)
    lengths = torch.full((args.videos,), args.frames, dtype=torch.int64, device=dev)
    c = model.config
    frames = torch.randn(int(lengths.sum()), c.in_chans, c.img_size, c.img_size, device=dev)
    labels = torch.randint(1, 1296, (args.videos * (args.frames // 4),), device=dev)
    label_lengths = torch.full((args.videos,), args.frames // 4, device=dev)
    autocast = (torch.autocast(dev, dtype=dtype) if dtype != torch.float32 else contextlib.nullcontext())

    def train_step():
        with autocast:
            out = model(frames, lengths)
        loss = F.ctc_loss(out.log_probs, labels, out.lengths, label_lengths, zero_infinity=True)
        model.zero_grad(set_to_none=True)
        loss.backward()

    backends = ["mamba_ssm"] if args.skip_reference else ["reference", "mamba_ssm"]
    stats, outputs = {}, {}
    for backend in backends:
        model.set_backend(FAST.get(backend, backend))
        model.train()
        if dev == "cuda":
            torch.cuda.reset_peak_memory_stats()
        try:
            times = cuda_time(train_step, args.repeats, args.warmup)
        except torch.cuda.OutOfMemoryError:
            stats[backend] = None
            torch.cuda.empty_cache()
            continue
        peak = torch.cuda.max_memory_allocated() / 2**30 if dev == "cuda" else float("nan")
        stats[backend] = (statistics.median(times), peak)
        model.eval()
        model.zero_grad(set_to_none=True)
        with autocast:
            out = model(frames, lengths)
        out.log_probs[:, :, 1].sum().backward()
        first_name, first = next(iter(model.named_parameters()))  # the stem's first weight
        outputs[backend] = (out.log_probs.detach().float(), model.head.weight.grad.float().clone(),
                            first.grad.float().clone(), first_name)
    n = int(lengths.sum())
    rows, records = [], []
    for backend in backends:
        if stats[backend] is None:
            rows.append(f"| {backend} | out of memory | - | - |")
            records.append({"backend": backend, "out_of_memory": True})
            continue
        t, peak = stats[backend]
        speedup = (f"{stats['reference'][0] / t:.1f}x" if stats.get("reference") else "-")
        rows.append(f"| {backend} | {n / t:.0f} | {speedup} | {peak:.1f} |")
        records.append({"backend": backend, "frames_per_s": n / t, "step_s": t, "peak_memory_gib": peak})
    parity = []
    if "reference" in outputs and "mamba_ssm" in outputs:
        (lp_r, gh_r, gs_r, name), (lp_f, gh_f, gs_f, _) = outputs["reference"], outputs["mamba_ssm"]
        parity = [f"| log-probs max abs diff | {(lp_f - lp_r).abs().max().item():.2e} |",
                  f"| head.weight grad rel. diff | {rel_err(gh_f, gh_r):.2e} |",
                  f"| {name} grad rel. diff | {rel_err(gs_f, gs_r):.2e} |"]
        records.append({"parity": {"log_probs_max_abs_diff": (lp_f - lp_r).abs().max().item(),
                                   "head_grad_rel_diff": rel_err(gh_f, gh_r), f"{name}_grad_rel_diff": rel_err(gs_f, gs_r)}})
    return rows, parity, records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="slr_mamba_base")
    parser.add_argument("--videos", type=int, default=2)
    parser.add_argument("--frames", type=int, default=64, help="frames per video")
    parser.add_argument("--dtype", choices=["bf16", "fp16", "fp32"], default="bf16")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--skip-reference", action="store_true", help="time only the fast backend")
    parser.add_argument("--skip-kernels", action="store_true", help="skip the op-level table")
    parser.add_argument("--tokens", type=int, default=197, help="token positions in the kernel table (base: 197)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--smoke-cpu", action="store_true",
                        help="check this script without a GPU: CPU, reference kernels in place of the fast ones")
    args = parser.parse_args()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    if args.smoke_cpu:
        global DEVICE
        DEVICE = "cpu"
        FAST.update(mamba_ssm="reference", conv="reference")
        print("SMOKE TEST on CPU: the 'fast' columns run the reference; numbers mean nothing\n")
        return report(args, dtype)
    if not torch.cuda.is_available():
        print("gpu_bench: no CUDA device", file=sys.stderr)
        return 1
    backends = available_backends()
    if not backends["mamba_ssm"]:
        from slr_models.ops._backends import fast_kernels

        print(f"gpu_bench: mamba-ssm's kernels do not import: {fast_kernels().errors}; run "
              "`slr-models install-fast-path`", file=sys.stderr)
        return 1
    from slr_models.ops._mamba_import import mamba_version

    conv = "causal-conv1d" if backends["causal_conv1d"] else "slr's Triton conv"
    print(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"mamba-ssm {mamba_version()} (Triton), conv: {conv}")
    return report(args, dtype)


def report(args, dtype) -> int:
    print(f"{args.videos} videos x {args.frames} frames, {args.dtype}, median of {args.repeats} runs\n")
    result = {"model": args.model, "videos": args.videos, "frames": args.frames, "dtype": args.dtype,
              "device": torch.cuda.get_device_name() if DEVICE == "cuda" else "cpu", "smoke_cpu": DEVICE == "cpu"}
    if not args.skip_kernels:
        print("| kernel (fwd+bwd) | reference ms | fast ms | speed-up | reference rel. err | fast rel. err |")
        print("| --- | --- | --- | --- | --- | --- |")
        rows, result["kernels"] = kernel_rows(args, dtype)
        print("\n".join(rows), flush=True)
        print()
    rows, parity, result["train_step"] = model_rows(args, dtype)
    print(f"| {args.model} backend | train frames/s (fwd+bwd) | speed-up | peak memory GiB |")
    print("| --- | --- | --- | --- |")
    print("\n".join(rows))
    if parity:
        print("\n| parity (eval, same weights and input) | value |\n| --- | --- |")
        print("\n".join(parity))
    if args.json:
        import json
        from pathlib import Path

        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
